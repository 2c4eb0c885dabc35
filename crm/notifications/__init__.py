"""Notifications: the outbox, the in-app notification centre, the daily digest, and reminder rules.

Every email and in-app notification passes through the outbox (``models.OutboxMessage``), delivered after the
commit that justified it, with retries and back-off (``delivery``). Reminders come from administrator-editable
rules (``models.ReminderRule``) swept by ``reminders.run_sweep``: each rule names a watcher in
``registry.WATCHERS``.

The watcher contract
====================

A watcher finds the records a rule is about. It is a plain function::

    def watcher(rule: ReminderRule, sweep: Sweep) -> Iterable[Due]

from ``crm.notifications.models`` (ReminderRule) and ``crm.notifications.reminders`` (Sweep, Due, Recipient,
in_batches, user_recipient, record_path). It

1. selects the records whose watched date ``due_on`` lies in ``sweep.anchor_range(rule)`` (inclusive; that is
   every record whose reminder fires, at ``due_on + rule.offset_days``, between ``sweep.first_day`` and
   ``sweep.today``) and whose condition still holds (the visit is still planned, the decision not yet made,
   the report not yet recorded ...). Dates are local calendar dates (Asia/Shanghai): convert instants with
   ``crm.core.timeutil`` (``local_date``, ``local_midnight``). Use one indexed range query, ``selectinload``
   for what the recipients need, and ``in_batches(stmt, Model.id)`` for large sets;
2. yields one ``Due(record, due_on, recipients, context, enterprise, url)`` per record:
   - ``record``: the ORM object (its ``__tablename__`` and ``id`` go into the once-only key);
   - ``due_on``: the watched date (part of the key: a moved date is a new reminder);
   - ``recipients``: ``Recipient`` objects for the codes in ``rule.recipients`` (keys of that dict; each code
     is one of the entry's ``recipients`` in the registry). A CRM user is ``Recipient(role=code, user=user)``
     (``user_recipient(user, code)`` returns None for no user); a person outside the CRM is
     ``Recipient(role=code, email=..., name=..., language="zh_CN")`` and can only be emailed;
   - ``context``: the entry's ``placeholders`` (str, int, ``date``, ``datetime`` or ``templating.Localized``
     for a value with a Chinese and an English form); the common placeholders (rule, due_date, fires_on,
     days_left, days_late, recipient, link, enterprise) are added by the sweep;
   - ``enterprise``: the enterprise the record belongs to (users outside its scope are not reminded; None
     only for a record of no single enterprise, e.g. an event's organisers);
   - ``url``: the record's path, built with ``record_path("endpoint", **values)`` (works outside requests).
3. reads only: it never writes, commits or sends. Scope, de-duplication, catch-up (skipped), channels,
   language, digest and the outbox are the sweep's job.

To add one: write the function (e.g. ``crm/visits/reminders.py: planned_visits``) and set ``function="module:name"``
in its ``WatcherSpec`` in ``registry.py``; its rules, already seeded, start working on the next sweep. Every
entry of the registry has its watcher today. The training events' one (``event_start``, rules ``event_3d`` -3 and
``event_tomorrow`` -1) is ``crm.events.reminders:upcoming_events``: events not cancelled, by local start date;
``attendees`` (registered, with an email) are emailed, one Due per (event, attendee's enterprise) so each
reminder records its enterprise; ``organisers`` (the users who run the event) get a Due with no enterprise.

The pipeline's watchers (certification decisions, re-verification, the audited report, the internal audit) are
in ``crm/pipeline/reminders.py``.
"""
