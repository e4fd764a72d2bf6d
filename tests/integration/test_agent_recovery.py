"""The guest agent's calls across a postcopy migration whose link is cut
and recovered (the recovery machinery of test_postcopy_recovery.py): the
bridge moved to the destination's channel as soon as the guest ran
there, and its calls wait through the pause (the agent's pages are still
on the source) and complete after the recovery, exactly once."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, HERE)
from pylib.agent import (AgentLoad, agent_socket,  # noqa: E402
                         assert_exactly_once, channel_args, wait_agent)
from pylib.vm import FerryVM  # noqa: E402
from test_agent import assert_counters  # noqa: E402
from test_postcopy_recovery import RecoveryBase  # noqa: E402


class AgentRecovery(RecoveryBase, unittest.TestCase):
    mem = '512M'

    def start_vm(self, smp, incoming=False):
        extra = channel_args() + (['-incoming', 'defer'] if incoming else [])
        return FerryVM(accel=self.accel, mem=self.mem, smp=smp,
                       append=f'dirty-rate={self.rate}', paused=incoming,
                       extra_args=extra)

    def tearDown(self):
        if getattr(self, 'load', None):
            self.load.close()
        super().tearDown()

    def test_cut_and_recover(self):
        wait_agent(self.src)
        self.load = AgentLoad(agent_socket(self.src))
        self.load.wait_ok(100)
        self.load.migrating(True)
        self.start_postcopy_migration()
        self.load.resume(agent_socket(self.dst))
        before_cut = self.load.stats()['ok']
        self.cut()
        self.unthrottle()
        rec = self.recover()
        self.wait_recovered(rec)
        self.finish()
        self.load.wait_ok(before_cut + 100)
        self.load.migrating(False)
        st = self.load.stop()
        assert_exactly_once(self, st)
        assert_counters(self, self.dst, st)


if __name__ == '__main__':
    unittest.main()
