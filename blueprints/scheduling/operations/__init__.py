"""The rules of scheduling, one module per subject. Each operation checks, changes, writes its audit
line and queues its emails; it flushes but never commits (the caller does, so a refused change leaves
nothing behind). A refusal is an `app.refusals.Refusal`.

catalog        services, and who offers them
availability   weekly hours, date exceptions, scheduling defaults, free slots
appointments   book, move, cancel and group appointments (staff and client alike), invites
requests       new, reschedule and cancellation requests: approve (with changes), decline, expire
visibility     who sees which appointments and requests
calendar       the staff calendar page
feeds          private calendar feeds (staff and client)
portal         what a client may do: book or request, reschedule, cancel
series         recurring series: every date checked, booked all at once, cancel one or all following
"""
