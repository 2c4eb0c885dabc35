"""Operations: a record of every periodic job run, and the administrators' page over jobs, the outbox and reminders."""
