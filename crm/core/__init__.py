"""What every feature shares: model helpers, scope and permission checks, pagination, audit, jobs, i18n."""
