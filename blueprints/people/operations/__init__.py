"""The rules of the people feature, one module per subject.

- `access`: building blocks other features use (client records, assignments, who sees which client,
  portal logins and grants, minors) and the staff audit line every operation here writes.
- `staff`: the staff list, roles, deactivation, the last-owner rule.
- `invites`: activation links, staff invites and re-sends, portal invitations.
- `clients`: client records, search, assignments, archive, test clients, time zones.
- `guardians`: guardians of minors and their permissions, revoking a grant, how grants look.

Operations flush but never commit (the view commits, so a refused change leaves nothing behind),
write their own audit line, and refuse with a `Refusal` whose message is fit to show.
"""
