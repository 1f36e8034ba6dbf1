# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""roles/nova_preflight/tasks/available_package.yml with a fake apt-cache on PATH (every host is local)."""

from __future__ import annotations

import os

FAKE_APT_CACHE = r"""#!/bin/sh
# apt-cache policy <package>: candidates from the test's table
case "$2" in
  nova-good) inst='2:33.0.2-0ubuntu1~cloud0'; cand='3:34.0.0-0ubuntu1~cloud0' ;;
  nova-old) inst='2:33.0.2-0ubuntu1~cloud0'; cand='2:33.0.2-0ubuntu1~cloud0' ;;
  placement-good) inst='15.0.0-0ubuntu1'; cand='16.0.0-0ubuntu1' ;;
  *) echo "N: Unable to locate package $2" >&2; exit 0 ;;
esac
printf '%s:\n  Installed: %s\n  Candidate: %s\n  Version table:\n' "$2" "$inst" "$cand"
"""

HOSTS = dict(api=['ctl1'], conductor=['ctl1'], scheduler=['ctl1'], compute=['cmp1', 'cmp2'],
             compute_in_scope=['cmp1', 'cmp2'], placement=['ctl1'], control=['ctl1'], manage='ctl1', backup='infra')
RELEASE = dict(target=dict(release='2026.2', name='Hibiscus', nova_major=34, slurp=False))


def scenario(name, nova, placement):
    return dict(name=name, facts=dict(nova_preflight_hosts=HOSTS, nova_preflight_release=RELEASE,
                                      nova_upgrade_packages=nova, nova_upgrade_placement_packages=placement))


def test_package_method(run_scenarios, tmp_path):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    fake = bindir / 'apt-cache'
    fake.write_text(FAKE_APT_CACHE)
    fake.chmod(0o755)
    out = run_scenarios('nova_preflight', 'available_package', [
        scenario('available', ['nova-good'], ['placement-good']),
        scenario('old_candidate', ['nova-old'], ['placement-good']),
        scenario('no_candidate', ['nova-good', 'nova-missing'], ['placement-good']),
    ], collect=['nova_preflight_install'], env=dict(PATH='%s:%s' % (bindir, os.environ['PATH'])))

    ok = out['available']
    assert not ok['failed'], ok['msgs']
    install = ok['facts']['nova_preflight_install']
    assert install['method'] == 'package'
    assert install['nova']['version'] == '34.0.0-0ubuntu1~cloud0'
    assert install['nova']['candidates'] == {'ctl1 nova-good': '3:34.0.0-0ubuntu1~cloud0',
                                             'cmp1 nova-good': '3:34.0.0-0ubuntu1~cloud0',
                                             'cmp2 nova-good': '3:34.0.0-0ubuntu1~cloud0',
                                             'ctl1 placement-good': '16.0.0-0ubuntu1'}
    assert install['nova']['missing_on'] == [] and install['nova']['wrong_release'] == []

    old = out['old_candidate']
    assert old['failed']
    assert old['msgs'][0].startswith('The nova package apt would install is not release 2026.2 (nova 34.x) on: '
                                     'ctl1 nova-old: 2:33.0.2-0ubuntu1~cloud0')

    missing = out['no_candidate']
    assert missing['failed']
    assert missing['msgs'][0].startswith('The target release is not available on ctl1, cmp1, cmp2: apt-cache policy shows '
                                         'no candidate for ctl1 nova-missing, cmp1 nova-missing, cmp2 nova-missing.')
    assert 'Ubuntu Cloud Archive hibiscus pocket' in missing['msgs'][0]
