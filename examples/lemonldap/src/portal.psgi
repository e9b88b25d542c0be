# Debian's LemonLDAP::NG portal with the static files its pages load, served
# the way Debian's nginx site (/etc/lemonldap-ng/portal-nginx.conf) serves them:
# /static/ from the portal's htdocs, /javascript/ from Debian's libjs-* packages.
# Everything else is the unmodified portal application.
use strict;
use warnings;
use Plack::Builder;
use Lemonldap::NG::Portal::Main;

my $portal = Lemonldap::NG::Portal::Main->run( {} );

builder {
    enable 'Static',
      path => qr{^/static/},
      root => '/usr/share/lemonldap-ng/portal/htdocs/';
    enable 'Static',
      path => qr{^/javascript/},
      root => '/usr/share/';
    $portal;
};
