# Seiten, die ein Benutzer beim Anmeldeschritt und auf der Self-Service-Seite sieht.
# Hier kein Markup: Das bleibt in den Vorlagen. Argumente enthalten nie einen Code.

## Von allen Seiten genutzt

service-default = Backup-Codes
chrome-account = Konto: { $account }
chrome-support = Hilfe
chrome-recovery = Backup-Codes verloren?
datetime = { $day }.{ $month }.{ $year }, { $hour }:{ $minute } Uhr ({ $zone })
wait-seconds = { $n ->
    [one] 1 Sekunde
   *[other] { $n } Sekunden
}
wait-minutes = { $n ->
    [one] 1 Minute
   *[other] { $n } Minuten
}
wait-hours = { $n ->
    [one] 1 Stunde
   *[other] { $n } Stunden
}
code-hint-case = Groß- und Kleinschreibung, Leerzeichen und Bindestriche spielen keine Rolle.
action-cancel = Abbrechen
action-continue = Weiter
action-return = Zurück zur Anmeldung
action-create = Meine Backup-Codes erstellen

## Code-Eingabe

code-title = Backup-Code eingeben
code-label = Backup-Code
code-label-numbered = Backup-Code Nr. { $n }
code-hint-any = Geben Sie einen noch nicht verwendeten Code aus Ihrer Liste ein. Jeder Code funktioniert nur einmal.
code-hint-numbered = Geben Sie Code Nr. { $n } aus Ihrer Liste ein. Jeder Code funktioniert nur einmal.
code-no-codes = Ich habe meine Backup-Codes nicht

## Was an einem eingegebenen Code falsch ist

code-error-empty = Geben Sie einen Ihrer Backup-Codes ein.
code-error-too-long = Das ist länger als ein Backup-Code. Geben Sie nur einen Code ein.
code-error-invalid-character = Die Eingabe enthält Zeichen, die in Backup-Codes nicht vorkommen (Codes bestehen nur aus Buchstaben und Ziffern). Dies wurde nicht als Versuch gezählt.
code-error-wrong-length = Dieser Code hat die falsche Anzahl an Zeichen. Vergleichen Sie ihn mit Ihrer Liste; dies wurde nicht als Versuch gezählt.
code-error-check-symbol = Dieser Code enthält einen Tippfehler (sein Prüfzeichen passt nicht zum Rest). Vergleichen Sie ihn mit Ihrer Liste; dies wurde nicht als Versuch gezählt.
reject-mismatch = Dieser Code ist nicht richtig.
reject-already-used = Dieser Code wurde bereits verwendet. Jeder Code funktioniert nur einmal: Verwenden Sie einen anderen Code aus Ihrer Liste.
reject-replaced-set = Dieser Code gehört zu einem Satz Backup-Codes, der ersetzt wurde, und funktioniert daher nicht mehr. Verwenden Sie einen Code aus Ihrem neuesten Satz.
reject-wrong-number = Dieser Code ist gültig, aber nicht der angeforderte: Verwenden Sie den Code mit der angezeigten Nummer.
activate-mismatch = Dieser Code gehört nicht zum neuen Satz. Geben Sie einen Code aus der Liste ein, die Sie gerade gespeichert haben.
activate-other = Mit diesem Code lässt sich der neue Satz nicht bestätigen. Geben Sie einen anderen Code aus der Liste ein, die Sie gerade gespeichert haben.
attempts-locked = Zu viele falsche Codes: Sie können es ab { $until } erneut versuchen (in { $wait }).
attempts-last = Der nächste falsche Code sperrt die Backup-Codes für eine Weile.
attempts-left = { $left ->
    [one] Noch 1 Versuch bis zu einer kurzen Sperre.
   *[other] Noch { $left } Versuche bis zu einer kurzen Sperre.
}

## Einrichtung

enroll-title-first = Backup-Codes einrichten
enroll-title-replace = Ihre Backup-Codes ersetzen
enroll-first = Mit Backup-Codes können Sie sich anmelden, wenn Sie Ihren üblichen zweiten Schritt nicht nutzen können, zum Beispiel wenn Sie Ihr Telefon verlieren. Jeder Code funktioniert nur einmal.
enroll-replacing = Sie erhalten einen neuen Satz Backup-Codes. Ihre aktuellen Codes funktionieren weiter, bis Sie den neuen Satz bestätigen, indem Sie einen seiner Codes eingeben; danach funktionieren sie alle nicht mehr.
enroll-once = Die Codes werden nur einmal angezeigt. Halten Sie einen sicheren Ort bereit: einen Passwort-Manager oder einen Ausdruck, den Sie sicher aufbewahren.
enroll-not-now = Nicht jetzt

## Ein neuer Satz

codes-title-new = Backup-Codes speichern
codes-title-confirm = Backup-Codes bestätigen
codes-intro = Dies sind Ihre Backup-Codes für { $service }, Satz { $fingerprint }.
codes-intro-plain = Dies sind Ihre Backup-Codes, Satz { $fingerprint }.
codes-once = Sobald Sie diese Seite verlassen, werden sie nicht mehr angezeigt.
codes-save = Speichern Sie sie jetzt: Kopieren Sie sie in einen Passwort-Manager, laden Sie sie herunter oder drucken Sie sie aus.
codes-heading = { $count ->
    [one] Satz { $fingerprint } · 1 Code
   *[other] Satz { $fingerprint } · { $count } Codes
}
codes-print = { $service } · { $account } · ausgestellt am { $issued }. Jeder Code funktioniert nur einmal.
codes-copy = Codes kopieren
codes-download = Als .txt herunterladen
codes-print-button = Drucken
codes-not-shown = Ihre neuen Codes werden nicht erneut angezeigt. Sehen Sie in der Liste nach, die Sie gespeichert haben.
codes-confirm-heading = Prüfen Sie, ob Sie sie gespeichert haben
codes-confirm-label = Geben Sie einen der gespeicherten Codes ein
codes-confirm-hint = Damit wird der neue Satz aktiviert.
codes-confirm-hint-shown = Damit wird der neue Satz aktiviert; der eingegebene Code bleibt verwendbar.
codes-confirm-submit = Bestätigen und aktivieren
codes-new-set-instead = Ich habe sie nicht gespeichert: stattdessen einen neuen Satz erstellen
codes-saved = Ich habe meine Codes gespeichert
js-copied = Codes kopiert.
js-copy-denied = Kopieren ist hier nicht erlaubt: Markieren Sie die Codes und kopieren Sie sie von Hand.
js-copy-unavailable = Kopieren ist nicht verfügbar: Markieren Sie die Codes und kopieren Sie sie von Hand.
js-downloaded = { $file } heruntergeladen.
txt-head = { $service }: Backup-Codes für { $account }, Satz { $fingerprint }
txt-head-plain = Backup-Codes für { $account }, Satz { $fingerprint }
txt-issued = Ausgestellt am { $issued }. Jeder Code funktioniert nur einmal.
txt-filename-word = backup-codes

## Nachdem ein Code akzeptiert wurde

low-title = Nur noch wenige Backup-Codes
low-accepted = Code Nr. { $number } wurde akzeptiert.
low-left = { $remaining ->
    [0] Das war Ihr letzter Backup-Code.
    [one] Sie haben nur noch 1 Backup-Code.
   *[other] Sie haben nur noch { $remaining } Backup-Codes.
}
low-advice = Erstellen Sie jetzt einen neuen Satz, damit Sie später nicht ausgesperrt werden. Ihre verbleibenden Codes funktionieren nicht mehr, sobald Sie den neuen Satz bestätigen.
low-create = Jetzt einen neuen Satz erstellen
low-not-now = Nicht jetzt, mit der Anmeldung fortfahren
replaced-title = Neuen Backup-Code speichern
replaced-accepted = Code Nr. { $number } wurde akzeptiert und ist jetzt verbraucht. Ein neuer Code mit derselben Nummer ersetzt ihn; er wird nur auf dieser Seite angezeigt.
replaced-advice = Tragen Sie ihn anstelle des alten Codes Nr. { $number } in Ihre gespeicherte Liste ein und fahren Sie dann fort.
replaced-continue = Gespeichert, mit der Anmeldung fortfahren
handoff-accepted-title = Code akzeptiert
handoff-accepted = Code Nr. { $number } akzeptiert. Sie werden zur Anmeldung zurückgeleitet…
handoff-enrolled-title = Backup-Codes sind aktiviert
handoff-enrolled = Ihre neuen Backup-Codes (Satz { $fingerprint }) sind aktiv. Sie werden zur Anmeldung zurückgeleitet…
handoff-cancel-title = Zurück zur Anmeldung
handoff-cancel = Sie haben sich entschieden, keinen Backup-Code zu verwenden. Sie werden zur Anmeldung zurückgeleitet…

## Self-Service

self-title = Ihre Backup-Codes
self-signed-in-as = Angemeldet als { $subject }.
self-notice-active = Ihre neuen Backup-Codes sind aktiv. Ihre alten Codes, falls vorhanden, funktionieren nicht mehr.
self-notice-deleted = Ihre Backup-Codes wurden gelöscht.
self-notice-nothing = Es gab keinen neuen Satz, der auf Bestätigung wartete.
self-notice-locked = Zu viele falsche Codes: Die Backup-Codes sind für eine Weile gesperrt.
self-set-heading = Satz { $fingerprint }
self-remaining = Noch { $remaining } von { $total } Codes übrig.
self-low = Nur noch wenige Codes: Erstellen Sie bald einen neuen Satz.
self-locked = Die Codes sind nach zu vielen falschen Codes gesperrt.
self-none-used = Aus diesem Satz wurde noch kein Code verwendet.
self-used-heading = Verwendete Codes
self-used = Code Nr. { $number }, verwendet am { $at }
self-replace = Meine Backup-Codes ersetzen
self-reauth = Sie werden zuerst gebeten, sich erneut mit Ihrem zweiten Faktor anzumelden.
self-delete = Meine Backup-Codes löschen
self-no-codes = Sie haben keine Backup-Codes.
self-sign-out = Abmelden
self-signed-out-title = Abgemeldet
self-signed-out = Sie sind von Ihrer Backup-Code-Seite abgemeldet.
self-sign-in-again = Erneut anmelden
