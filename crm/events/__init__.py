"""Training events (measure 3 of 闽商务〔2025〕104号): invitations, registration through personal links,
waiting lists, QR check-in, attendance that completes plan tasks, feedback, certificates and statistics.

Who sees what (``crm/events/access.py`` decides it in one place; ``crm/core/scope.py`` underneath):

- An organising unit's *jurisdiction* is its area (users scoped to that area: commerce staff and viewers) or its
  customs office (users whose office is that office, a subordinate of it, or its 直属海关). Units with neither
  area nor office (省商务厅, 省工信厅 ...) are provincial: their jurisdiction is the whole province.
- Admins and managers see every event.
- Other users see an event when one of its organising units has a local jurisdiction they belong to, when they
  created it, or, once it is published, when it is organised by a provincial unit or has invited an enterprise in
  their scope (so city staff follow the provincial events their enterprises attend).
- Drafts are seen only by their creator, the users of their local organising units' jurisdictions, managers
  and admins.
- Managing an event (editing, inviting, registering, check-in) needs the ``edit`` permission and either being
  an admin, its creator, or a user of a local organising unit's jurisdiction.
- An enterprise's invitations, registrations, attendance and feedback are seen only by users whose scope holds
  that enterprise: every list, count by enterprise, check-in and export goes through ``scoped_by_enterprise``.
  Aggregate figures of an event (seats taken) count every enterprise.
- The public pages under ``/e/<token>`` need no login: the token (only its SHA-256 is stored) opens exactly one
  invitation, and those pages show that enterprise's own records and nothing about any other enterprise.
"""
