"""Two private libvirt daemons (tests/libvirt-lab) for tests that drive
ferry through real libvirt: start and stop them, run virsh, reach a
domain's QMP monitor through libvirt, and read its guest's verifier."""

import json
import os
import shutil
import subprocess

from .vm import build_dir
from .waits import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LAB = os.path.join(ROOT, 'tests', 'libvirt-lab')
VIRSH_TIMEOUT = 300


def missing():
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return 'the libvirt lab needs root (namespaces, bind mounts)'
    if not os.path.exists('/usr/sbin/libvirtd') or not shutil.which('virsh'):
        return 'libvirtd or virsh is not installed (scripts/install-deps)'
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return '/dev/kvm is not usable'
    return None


class Daemon:
    """One lab daemon: lvinst.sh NAME PORT UUID MIG_MIN MIG_MAX ADDRESS."""

    def __init__(self, lab_dir, name, port, uuid, mig_ports, address,
                 tls_dir=None):
        self.lab_dir, self.name, self.tls_dir = lab_dir, name, tls_dir
        self.args = [name, str(port), uuid, str(mig_ports[0]),
                     str(mig_ports[1]), address]
        self.uri = f'qemu+tcp://127.0.0.1:{port}/system'

    def env(self):
        env = dict(os.environ, LVLAB_DIR=self.lab_dir,
                   FERRY_BUILD=build_dir())
        if self.tls_dir:
            env['LVLAB_TLS_DIR'] = self.tls_dir
        return env

    def start(self):
        subprocess.run([os.path.join(LAB, 'lvinst.sh'), *self.args],
                       env=self.env(), check=True, capture_output=True,
                       timeout=120)

    def stop(self, keep_domains=False):
        args = ['--keep-domains'] if keep_domains else []
        subprocess.run([os.path.join(LAB, 'lvstop.sh'), *args, self.name],
                       env=self.env(), capture_output=True, timeout=120)

    def log(self):
        path = os.path.join(self.lab_dir, self.name, 'log', 'libvirtd.log')
        with open(path, errors='replace') as f:
            return f.read()

    def virsh(self, *args, check=True, timeout=VIRSH_TIMEOUT):
        r = subprocess.run(['virsh', '-q', '-c', self.uri, *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode:
            raise AssertionError(f'virsh {" ".join(args)}: '
                                 f'{r.stderr.strip() or r.stdout.strip()}')
        return r

    def start_virsh(self, *args):
        """virsh in the background (a migration that is aborted later)."""
        return subprocess.Popen(['virsh', '-q', '-c', self.uri, *args],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def qmp(self, dom, command, **arguments):
        """A QMP command on the domain's monitor, through libvirt."""
        msg = {'execute': command}
        if arguments:
            msg['arguments'] = arguments
        out = self.virsh('qemu-monitor-command', dom, json.dumps(msg)).stdout
        reply = json.loads(out)
        if 'error' in reply:
            raise AssertionError(f'{command}: {reply["error"]}')
        return reply['return']

    def state(self, dom):
        r = self.virsh('domstate', '--reason', dom, check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def running(self, dom):
        return dom in self.virsh('list', '--name').stdout.split()


def write_domain(run_dir, name):
    """The lab's domain for this checkout (fresh disk image); its XML path."""
    out = subprocess.run([os.path.join(LAB, 'lvdomain.sh'), run_dir, name],
                         env=dict(os.environ, FERRY_BUILD=build_dir()),
                         check=True, capture_output=True, text=True,
                         timeout=60)
    return out.stdout.strip()


def wait(predicate, timeout, interval=0.2):
    """waits.wait_for, polling less often: every check runs virsh."""
    return wait_for(predicate, timeout, interval)
