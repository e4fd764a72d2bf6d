"""Certificates and pre-shared keys for the migration TLS tests, made at
test time with GnuTLS's certtool, in the directory layout QEMU's
tls-creds-x509 and tls-creds-psk objects read."""

import os
import shutil
import subprocess

DAYS = 2


def certtool_available():
    return shutil.which('certtool') is not None


def _certtool(workdir, *args, template=None):
    cmd = ['certtool'] + list(args)
    if template is not None:
        path = os.path.join(workdir, 'template.cfg')
        with open(path, 'w') as f:
            f.write(template)
        cmd += ['--template', path]
    subprocess.run(cmd, check=True, capture_output=True, cwd=workdir)


class CA:
    """A self-signed CA in @workdir/NAME that signs leaf certificates."""

    def __init__(self, workdir, name):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.key = os.path.join(self.dir, 'ca-key.pem')
        self.cert = os.path.join(self.dir, 'ca-cert.pem')
        _certtool(self.dir, '--generate-privkey', '--outfile', self.key)
        _certtool(self.dir, '--generate-self-signed', '--load-privkey',
                  self.key, '--outfile', self.cert,
                  template=f'cn = {name}\nca\ncert_signing_key\n'
                           f'expiration_days = {DAYS}\n')

    def issue(self, outdir, role, cn, hosts=('localhost', '127.0.0.1')):
        """Writes ROLE-cert.pem, ROLE-key.pem and this CA's ca-cert.pem
        into @outdir (role: server or client)."""
        os.makedirs(outdir, exist_ok=True)
        key = os.path.join(outdir, f'{role}-key.pem')
        cert = os.path.join(outdir, f'{role}-cert.pem')
        usage = 'tls_www_server' if role == 'server' else 'tls_www_client'
        names = ''.join(f'ip_address = {h}\n' if h[0].isdigit()
                        else f'dns_name = {h}\n' for h in hosts)
        _certtool(outdir, '--generate-privkey', '--outfile', key)
        _certtool(outdir, '--generate-certificate', '--load-privkey', key,
                  '--load-ca-certificate', self.cert,
                  '--load-ca-privkey', self.key, '--outfile', cert,
                  template=f'cn = {cn}\norganization = ferry tests\n'
                           f'{usage}\nsigning_key\nencryption_key\n'
                           f'{names}expiration_days = {DAYS}\n')
        shutil.copy(self.cert, os.path.join(outdir, 'ca-cert.pem'))
        return outdir

    def trust_only(self, outdir):
        """@outdir trusts this CA (a client without its own certificate)."""
        os.makedirs(outdir, exist_ok=True)
        shutil.copy(self.cert, os.path.join(outdir, 'ca-cert.pem'))
        return outdir


def psk_dir(workdir, name, username, hexkey):
    """A directory with keys.psk holding @username's key."""
    d = os.path.join(workdir, name)
    os.makedirs(d)
    with open(os.path.join(d, 'keys.psk'), 'w') as f:
        f.write(f'{username}:{hexkey}\n')
    return d


def keyval_escape(value):
    """A value for QEMU's option syntax: commas doubled."""
    return value.replace(',', ',,')
