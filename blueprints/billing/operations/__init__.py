"""Billing's rules, by subject: `invoices` (lines, numbers, void), `payments` (manual payments,
refunds), `attendance` (what staff mark on an appointment, and the charges it brings), `stripe_api`
(every call to Stripe), `checkout` (paying online, saving a card), `webhooks` (Stripe's events),
`settings` (the practice's Stripe connection and fees)."""
