# Pages qu’un utilisateur rencontre pendant l’étape de connexion et sur la page libre-service.
# Pas de balisage ici : les modèles s’en chargent. Les arguments ne contiennent jamais de code.

## Commun à toutes les pages

service-default = Codes de secours
chrome-account = Compte : { $account }
chrome-support = Aide
chrome-recovery = Vous avez perdu vos codes de secours ?
datetime = { $day }/{ $month }/{ $year } { $hour }:{ $minute } ({ $zone })
wait-seconds = { $n ->
    [one] { $n } seconde
   *[other] { $n } secondes
}
wait-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
wait-hours = { $n ->
    [one] { $n } heure
   *[other] { $n } heures
}
code-hint-case = Les majuscules, les espaces et les tirets n’ont pas d’importance.
action-cancel = Annuler
action-continue = Continuer
action-return = Retour à la connexion
action-create = Créer mes codes de secours

## Saisie d’un code

code-title = Saisissez un code de secours
code-label = Code de secours
code-label-numbered = Code de secours n° { $n }
code-hint-any = Saisissez un code inutilisé de votre liste. Chaque code ne fonctionne qu’une seule fois.
code-hint-numbered = Saisissez le code n° { $n } de votre liste. Chaque code ne fonctionne qu’une seule fois.
code-no-codes = Je n’ai pas mes codes de secours

## Ce qui ne va pas dans un code saisi

code-error-empty = Saisissez l’un de vos codes de secours.
code-error-too-long = C’est plus long qu’un code de secours. Saisissez un seul code.
code-error-invalid-character = Ce texte contient des caractères absents des codes de secours (les codes n’utilisent que des lettres et des chiffres). Cela n’a pas été compté comme une tentative.
code-error-wrong-length = Ce code n’a pas le bon nombre de caractères. Comparez-le à votre liste ; cela n’a pas été compté comme une tentative.
code-error-check-symbol = Ce code contient une faute de frappe (son caractère de contrôle ne correspond pas au reste). Comparez-le à votre liste ; cela n’a pas été compté comme une tentative.
reject-mismatch = Ce code n’est pas correct.
reject-already-used = Ce code a déjà été utilisé. Chaque code ne fonctionne qu’une seule fois : utilisez un autre code de votre liste.
reject-replaced-set = Ce code appartient à une série de codes de secours qui a été remplacée : il ne fonctionne plus. Utilisez un code de votre série la plus récente.
reject-wrong-number = Ce code est valide, mais ce n’est pas celui demandé : utilisez le code qui porte le numéro affiché.
activate-mismatch = Ce code ne fait pas partie de la nouvelle série. Saisissez un code de la liste que vous venez d’enregistrer.
activate-other = Ce code ne peut pas confirmer la nouvelle série. Saisissez un autre code de la liste que vous venez d’enregistrer.
attempts-locked = Trop de codes erronés : vous pourrez réessayer à partir du { $until } (dans { $wait }).
attempts-last = Le prochain code erroné bloquera les codes de secours pendant un moment.
attempts-left = { $left ->
    [one] { $left } tentative restante avant un court blocage.
   *[other] { $left } tentatives restantes avant un court blocage.
}

## Inscription

enroll-title-first = Configurer les codes de secours
enroll-title-replace = Remplacer vos codes de secours
enroll-first = Les codes de secours vous permettent de vous connecter lorsque vous ne pouvez pas utiliser votre deuxième étape habituelle, par exemple si vous perdez votre téléphone. Chaque code ne fonctionne qu’une seule fois.
enroll-replacing = Vous allez recevoir une nouvelle série de codes de secours. Vos codes actuels restent valables jusqu’à ce que vous confirmiez la nouvelle série en saisissant l’un de ses codes ; ensuite, ils cessent tous de fonctionner.
enroll-once = Les codes ne sont affichés qu’une seule fois. Prévoyez un endroit sûr : un gestionnaire de mots de passe, ou une copie imprimée conservée en lieu sûr.
enroll-not-now = Pas maintenant

## Une nouvelle série

codes-title-new = Enregistrez vos codes de secours
codes-title-confirm = Confirmez vos codes de secours
codes-intro = Voici vos codes de secours pour { $service }, série { $fingerprint }.
codes-intro-plain = Voici vos codes de secours, série { $fingerprint }.
codes-once = Ils ne seront plus affichés une fois que vous aurez quitté cette page.
codes-save = Enregistrez-les maintenant : copiez-les dans un gestionnaire de mots de passe, téléchargez-les ou imprimez-les.
codes-heading = { $count ->
    [one] Série { $fingerprint } · { $count } code
   *[other] Série { $fingerprint } · { $count } codes
}
codes-print = { $service } · { $account } · émis le { $issued }. Chaque code ne fonctionne qu’une seule fois.
codes-copy = Copier les codes
codes-download = Télécharger en .txt
codes-print-button = Imprimer
codes-not-shown = Vos nouveaux codes ne sont plus affichés. Consultez la liste que vous avez enregistrée.
codes-confirm-heading = Vérifiez que vous les avez enregistrés
codes-confirm-label = Saisissez l’un des codes que vous avez enregistrés
codes-confirm-hint = Cela active la nouvelle série.
codes-confirm-hint-shown = Cela active la nouvelle série ; le code saisi reste utilisable.
codes-confirm-submit = Confirmer et activer
codes-new-set-instead = Je ne les ai pas enregistrés : créer plutôt une nouvelle série
codes-saved = J’ai enregistré mes codes
js-copied = Codes copiés.
js-copy-denied = La copie n’est pas autorisée ici : sélectionnez les codes et copiez-les manuellement.
js-copy-unavailable = La copie n’est pas disponible : sélectionnez les codes et copiez-les manuellement.
js-downloaded = Fichier { $file } téléchargé.
txt-head = { $service } : codes de secours de { $account }, série { $fingerprint }
txt-head-plain = Codes de secours de { $account }, série { $fingerprint }
txt-issued = Émis le { $issued }. Chaque code ne fonctionne qu’une seule fois.
txt-filename-word = codes-de-secours

## Après l’acceptation d’un code

low-title = Il vous reste peu de codes de secours
low-accepted = Le code n° { $number } a été accepté.
low-left = { $remaining ->
    [0] C’était votre dernier code de secours.
    [one] Il ne vous reste qu’un seul code de secours.
   *[other] Il ne vous reste que { $remaining } codes de secours.
}
low-advice = Créez une nouvelle série dès maintenant pour éviter tout blocage plus tard. Vos codes restants cessent de fonctionner dès que vous confirmez la nouvelle série.
low-create = Créer une nouvelle série maintenant
low-not-now = Pas maintenant, continuer la connexion
replaced-title = Enregistrez votre nouveau code de secours
replaced-accepted = Le code n° { $number } a été accepté et ne fonctionne plus. Un nouveau code portant le même numéro le remplace ; il n’est affiché que sur cette page.
replaced-advice = Notez-le à la place de l’ancien code n° { $number } dans la liste que vous avez enregistrée, puis continuez.
replaced-continue = Je l’ai enregistré, continuer la connexion
handoff-accepted-title = Code accepté
handoff-accepted = Code n° { $number } accepté. Retour à la connexion…
handoff-enrolled-title = Les codes de secours sont activés
handoff-enrolled = Vos nouveaux codes de secours (série { $fingerprint }) sont actifs. Retour à la connexion…
handoff-cancel-title = Retour à la connexion
handoff-cancel = Vous avez choisi de ne pas utiliser de code de secours. Retour à la connexion…

## Libre-service

self-title = Vos codes de secours
self-signed-in-as = Session ouverte en tant que { $subject }.
self-notice-active = Vos nouveaux codes de secours sont actifs. Vos anciens codes, si vous en aviez, ne fonctionnent plus.
self-notice-deleted = Vos codes de secours ont été supprimés.
self-notice-nothing = Aucune nouvelle série n’attendait de confirmation.
self-notice-locked = Trop de codes erronés : les codes de secours sont bloqués pendant un moment.
self-set-heading = Série { $fingerprint }
self-remaining = Codes restants : { $remaining } sur { $total }.
self-low = Il reste peu de codes : créez bientôt une nouvelle série.
self-locked = Les codes sont bloqués après trop de codes erronés.
self-none-used = Aucun code de cette série n’a été utilisé.
self-used-heading = Codes utilisés
self-used = Code n° { $number }, utilisé le { $at }
self-replace = Remplacer mes codes de secours
self-reauth = Vous devrez d’abord vous reconnecter, avec votre second facteur.
self-delete = Supprimer mes codes de secours
self-no-codes = Vous n’avez aucun code de secours.
self-sign-out = Se déconnecter
self-signed-out-title = Déconnexion effectuée
self-signed-out = Votre session sur la page des codes de secours est fermée.
self-sign-in-again = Se reconnecter
