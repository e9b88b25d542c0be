# Pages a user meets during the sign-in step and on the self-service page.
# No markup here: templates keep it. Arguments never carry a code.

## Shared by every page

service-default = Backup codes
chrome-account = Account: { $account }
chrome-support = Help
chrome-recovery = Lost your backup codes?
datetime = { $year }-{ $month }-{ $day } { $hour }:{ $minute } ({ $zone })
wait-seconds = { $n ->
    [one] 1 second
   *[other] { $n } seconds
}
wait-minutes = { $n ->
    [one] 1 minute
   *[other] { $n } minutes
}
wait-hours = { $n ->
    [one] 1 hour
   *[other] { $n } hours
}
code-hint-case = Capital letters, spaces and dashes do not matter.
action-cancel = Cancel
action-continue = Continue
action-return = Return to sign-in
action-create = Create my backup codes

## Code entry

code-title = Enter a backup code
code-label = Backup code
code-label-numbered = Backup code number { $n }
code-hint-any = Type any unused code from your list. Each code works once.
code-hint-numbered = Type code number { $n } from your list. Each code works once.
code-no-codes = I don’t have my backup codes

## What is wrong with a typed code

code-error-empty = Type one of your backup codes.
code-error-too-long = That is longer than a backup code. Type just one code.
code-error-invalid-character = That contains characters that are not in backup codes (codes use letters and digits only). It was not counted as an attempt.
code-error-wrong-length = That code has the wrong number of characters. Check it against your list; it was not counted as an attempt.
code-error-check-symbol = That code has a typo (its check character does not match the rest). Check it against your list; it was not counted as an attempt.
reject-mismatch = That code is not right.
reject-already-used = That code was already used. Each code works once: use another code from your list.
reject-wrong-number = That is a valid code, but not the one asked for: use the code with the number shown.
reject-replaced-set = That code is from a set of backup codes that was replaced, so it no longer works. Use a code from your newest set.
activate-mismatch = That code is not one of the new set. Type a code from the list you just saved.
activate-other = That code cannot confirm the new set. Type another code from the list you just saved.
attempts-locked = Too many wrong codes: you can try again after { $until } (in { $wait }).
attempts-last = The next wrong code locks backup codes for a while.
attempts-left = { $left ->
    [one] 1 attempt left before a short lockout.
   *[other] { $left } attempts left before a short lockout.
}

## Enrolment

enroll-title-first = Set up backup codes
enroll-title-replace = Replace your backup codes
enroll-first = Backup codes let you sign in when you cannot use your usual second step, for example if you lose your phone. Each code works once.
enroll-replacing = You will get a new set of backup codes. Your current codes keep working until you confirm the new set by typing one of its codes back; then they all stop working.
enroll-once = The codes are shown only once. Have a safe place ready: a password manager, or a printout kept somewhere safe.
enroll-not-now = Not now

## A new set

codes-title-new = Save your backup codes
codes-title-confirm = Confirm your backup codes
codes-intro = These are your backup codes for { $service }, set { $fingerprint }.
codes-intro-plain = These are your backup codes, set { $fingerprint }.
codes-once = They are not shown again once you leave this page.
codes-save = Save them now: copy them to a password manager, download them, or print them.
codes-heading = { $count ->
    [one] Set { $fingerprint } · 1 code
   *[other] Set { $fingerprint } · { $count } codes
}
codes-print = { $service } · { $account } · issued { $issued }. Each code works once.
codes-copy = Copy codes
codes-download = Download as .txt
codes-print-button = Print
codes-not-shown = Your new codes are not shown again. Look at the list you saved.
codes-confirm-heading = Check that you saved them
codes-confirm-label = Type any one of the codes you saved
codes-confirm-hint = This turns the new set on.
codes-confirm-hint-shown = This turns the new set on; the code you type stays usable.
codes-confirm-submit = Confirm and turn on
codes-new-set-instead = I did not save them: create a new set instead
codes-saved = I have saved my codes
js-copied = Codes copied.
js-copy-denied = Copying is not allowed here: select the codes and copy them by hand.
js-copy-unavailable = Copying is not available: select the codes and copy them by hand.
js-downloaded = Downloaded { $file }.
txt-head = { $service }: backup codes for { $account }, set { $fingerprint }
txt-head-plain = Backup codes for { $account }, set { $fingerprint }
txt-issued = Issued { $issued }. Each code works once.
txt-filename-word = backup-codes

## After a code was accepted

low-title = Few backup codes left
low-accepted = Code #{ $number } was accepted.
low-left = { $remaining ->
    [0] That was your last backup code.
    [one] You have only 1 backup code left.
   *[other] You have only { $remaining } backup codes left.
}
low-advice = Create a new set now so you are not locked out later. Your remaining codes stop working once you confirm the new set.
low-create = Create a new set now
low-not-now = Not now, continue signing in
replaced-title = Save your new backup code
replaced-accepted = Code #{ $number } was accepted and is now used up. A new code with the same number replaces it; it is shown only on this page.
replaced-advice = Put it in place of the old code #{ $number } in the list you saved, then continue.
replaced-continue = I have saved it, continue signing in
handoff-accepted-title = Code accepted
handoff-accepted = Code #{ $number } accepted. Returning you to sign-in…
handoff-enrolled-title = Backup codes are on
handoff-enrolled = Your new backup codes (set { $fingerprint }) are active. Returning you to sign-in…
handoff-cancel-title = Returning to sign-in
handoff-cancel = You chose not to use a backup code. Returning you to sign-in…

## Self-service

self-title = Your backup codes
self-signed-in-as = Signed in as { $subject }.
self-notice-active = Your new backup codes are active. Your old codes, if you had any, no longer work.
self-notice-deleted = Your backup codes were deleted.
self-notice-nothing = There was no new set waiting to be confirmed.
self-notice-locked = Too many wrong codes: backup codes are locked for a while.
self-set-heading = Set { $fingerprint }
self-remaining = { $remaining } of { $total } codes left.
self-low = Few codes left: create a new set soon.
self-locked = Codes are locked after too many wrong codes.
self-none-used = No code of this set has been used.
self-used-heading = Used codes
self-used = Code #{ $number }, used { $at }
self-replace = Replace my backup codes
self-reauth = You will be asked to sign in again, with your second factor, first.
self-delete = Delete my backup codes
self-no-codes = You have no backup codes.
self-sign-out = Sign out
self-signed-out-title = Signed out
self-signed-out = You are signed out of your backup-code page.
self-sign-in-again = Sign in again
