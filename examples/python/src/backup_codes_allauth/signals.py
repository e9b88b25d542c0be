"""`event` is sent for every event the engine returns (issued, activated, used,
failed, locked, low, exhausted) once the credential that produced it is stored;
connect an audit log or notifications to it. Arguments: `user_id`, `event` (a
`backup_codes` event dataclass: set ids and numbers, never a code), `request`
(or `None`)."""

from django.dispatch import Signal

event = Signal()
