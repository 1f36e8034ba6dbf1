#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: upgrade_lock
short_description: Hold a lock file for a run of an upgrade, so that a second run started meanwhile is refused
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Takes, holds, releases or reads a lock file on the host it runs on, usually the cloud's manage host. The live Nova
    upgrade (playbook rolling.openstack.nova_upgrade) takes it at its start and releases it at its end, so that a
    second run of the upgrade started while the first runs is refused, naming the run that holds the lock, instead
    of both going on.
  - The lock is a small JSON document naming its holder, a run of the playbook (O(holder)). O(holder.id) identifies the
    run; give the same id to every call of one run (for example a UUID the playbook makes once) and a new one to each
    run.
  - O(state=present) takes the lock. No lock file yet, it is created atomically (C(O_CREAT|O_EXCL), mode C(0640); a
    missing parent directory is created with mode C(0750)). A lock of the same O(holder.id) is held already and left
    alone (C(changed=false)). A lock of another id fails the task, changing nothing, and returns the other
    holder in RV(holder); with O(takeover=true) the lock is replaced instead (a temporary file in the same directory,
    then renamed) and the old holder is returned in RV(previous).
  - A lock file that is not a lock document (empty, truncated, not JSON) is treated as held by an unknown holder; it is
    refused the same way and can be taken over with O(takeover=true).
  - O(state=absent) releases the lock; the file is removed only when it is held by O(holder.id). A run never releases
    another run's lock; a lock of another holder is left in place with a warning. No lock file is no change.
  - O(state=query) only reads the lock.
  - The module cannot tell whether the holder of a lock still runs (it ran on another Ansible controller). A lock left
    behind by a run that was killed (Ctrl-C, a lost controller) stays until it is taken over with O(takeover=true) or
    its file is removed.
  - Times are ISO 8601 in UTC with milliseconds, for example C(2026-11-23T01:38:40.123+00:00).
  - The lock holds no secret. Needs only the Python standard library on the host.
options:
  path:
    description:
      - The lock file, for example C(/var/lib/rolling-openstack/nova-upgrade.lock).
    type: path
    required: true
  state:
    description:
      - V(present) takes the lock, or confirms that this run holds it. V(absent) releases it when this run holds it.
        V(query) only reads it.
    type: str
    choices: [present, absent, query]
    default: present
  holder:
    description:
      - This run, the holder of the lock. Required with O(state=present) and O(state=absent). With O(state=query) it
        is optional and only sets RV(acquired) and RV(held_by_other).
      - The module runs on the manage host, so it cannot find out the controller's host name, user or process id
        itself; the playbook gives them (lookups run on the controller, see the examples).
    type: dict
    suboptions:
      id:
        description:
          - A unique id of this run, the same for every call of the run, for example a random hex string the
            playbook makes once at its start with the M(ansible.builtin.set_fact) module and the
            P(ansible.builtin.password#lookup) lookup of C(/dev/null) (see the examples).
        type: str
        required: true
      controller:
        description: The host name of the Ansible controller the run is on.
        type: str
        default: ""
      user:
        description: The user running ansible-playbook on the controller.
        type: str
        default: ""
      pid:
        description: The process id of ansible-playbook on the controller.
        type: int
      playbook:
        description: The playbook, for example C(rolling.openstack.nova_upgrade).
        type: str
        default: ""
      started:
        description:
          - When the run started (ISO 8601; naive times are UTC). Default the current time of the call that takes the
            lock.
        type: str
  takeover:
    description:
      - With O(state=present), replace a lock held by another id (or an unreadable lock file) instead of failing.
        The previous holder is returned in RV(previous).
      - Only for a lock left behind by a run that is gone. Make sure first that no other run of the upgrade is under
        way; taking over the lock of a running upgrade lets two runs go on at once.
    type: bool
    default: false
extends_documentation_fragment:
  - rolling.openstack.attributes
attributes:
  check_mode:
    support: full
    details:
      - With O(state=present) and O(state=absent) the module reports what it would do (C(changed), RV(acquired),
        RV(holder), RV(previous)) but creates, writes and removes nothing.
      - In check mode a lock held by another run does not fail the task; it returns RV(held_by_other=true) and the
        other holder in RV(holder), so that the playbook can warn.
  diff_mode:
    support: full
    details:
      - Returns the lock file's content before and after as the diff.
  idempotent:
    support: full
    details:
      - Taking a lock this run holds already, or releasing a lock that is not there, changes nothing.
notes:
  - Give O(path) on a local file system of the manage host; the exclusive create is not reliable on every network
    file system.
seealso:
  - module: rolling.openstack.nova_upgrade_state
"""

EXAMPLES = r"""
- name: Make an id for this run (once, on the controller)
  ansible.builtin.set_fact:
    nova_upgrade_run_id: "{{ lookup('ansible.builtin.password', '/dev/null', chars=['hexdigits'], length=32) }}"
  run_once: true
  delegate_to: localhost
  delegate_facts: true

- name: Take the upgrade lock on the manage host
  rolling.openstack.upgrade_lock:
    path: /var/lib/rolling-openstack/nova-upgrade.lock
    holder:
      id: "{{ hostvars['localhost']['nova_upgrade_run_id'] }}"
      controller: "{{ lookup('ansible.builtin.pipe', 'hostname -f') }}"
      user: "{{ lookup('ansible.builtin.env', 'USER') }}"
      playbook: rolling.openstack.nova_upgrade
    takeover: "{{ nova_upgrade_lock_takeover | default(false) | bool }}"
  delegate_to: "{{ nova_preflight.hosts.manage }}"
  become: true
  register: nova_upgrade_lock

- name: Say that a previous run's lock was taken over
  ansible.builtin.debug:
    msg: >-
      Took over the upgrade lock of run {{ nova_upgrade_lock.previous.id | default('unknown') }}
      ({{ nova_upgrade_lock.previous.user | default('?') }}@{{ nova_upgrade_lock.previous.controller | default('?') }})
  when: nova_upgrade_lock.previous | length > 0

- name: In check mode, warn when another run holds the lock
  ansible.builtin.debug:
    msg: "Another run ({{ nova_upgrade_lock.holder.id | default('unknown') }}) holds the upgrade lock"
  when: nova_upgrade_lock.held_by_other

- name: Release the lock at the end of the run
  rolling.openstack.upgrade_lock:
    path: /var/lib/rolling-openstack/nova-upgrade.lock
    state: absent
    holder:
      id: "{{ hostvars['localhost']['nova_upgrade_run_id'] }}"
  delegate_to: "{{ nova_preflight.hosts.manage }}"
  become: true

- name: Who holds the lock? (changes nothing)
  rolling.openstack.upgrade_lock:
    path: /var/lib/rolling-openstack/nova-upgrade.lock
    state: query
  delegate_to: "{{ nova_preflight.hosts.manage }}"
  become: true
  register: nova_upgrade_lock_now
"""

RETURN = r"""
path:
  description:
    - The lock file (O(path)).
    - As for every module that returns C(path), Ansible adds the file's attributes to the result when the file exists
      after the call (C(owner), C(group), C(mode), C(size), C(state) C(file), ...).
  returned: always
  type: str
  sample: /var/lib/rolling-openstack/nova-upgrade.lock
exists:
  description: Whether the lock file exists after the call (would exist, in check mode).
  returned: always
  type: bool
  sample: true
acquired:
  description: Whether this run (O(holder.id)) holds the lock after the call (would hold it, in check mode).
  returned: always
  type: bool
  sample: true
held_by_other:
  description:
    - Whether the lock is held by another run than O(holder.id), or its file is unreadable, after the call. True in
      the failure of O(state=present) without O(takeover), in check mode instead of that failure, and after
      O(state=absent) left another run's lock in place.
    - With O(state=query) without O(holder), true whenever the lock file exists.
  returned: always
  type: bool
  sample: false
holder:
  description:
    - The lock document after the call (as it would be, in check mode), which is this run's when RV(acquired). When
      another run holds the lock, that run's document. Empty when there is no lock, or when the lock file is
      unreadable.
  returned: always
  type: dict
  contains:
    schema:
      description: The schema of the document, 1.
      type: int
      sample: 1
    id:
      description: The id of the run holding the lock (O(holder.id)).
      type: str
      sample: 5f0c6e2a9b1d4c7e8a3f2b1c0d9e8f7a
    controller:
      description: The Ansible controller of that run.
      type: str
      sample: deploy1.example.org
    user:
      description: The user running that run on the controller.
      type: str
      sample: ops
    pid:
      description: The process id of ansible-playbook on that controller, or null.
      type: int
      sample: 41873
    playbook:
      description: The playbook of that run.
      type: str
      sample: rolling.openstack.nova_upgrade
    started:
      description: When that run started.
      type: str
      sample: "2026-11-23T01:38:31.000+00:00"
    acquired:
      description: When that run took the lock.
      type: str
      sample: "2026-11-23T01:38:40.123+00:00"
previous:
  description:
    - With O(takeover=true), the lock document of the holder whose lock was replaced (would be, in check mode).
      Empty when nothing was taken over, and when the replaced lock file was unreadable.
  returned: always
  type: dict
  sample: {schema: 1, id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9, controller: deploy2.example.org, user: ops, pid: 3311,
           playbook: rolling.openstack.nova_upgrade, started: "2026-11-22T22:10:05.000+00:00",
           acquired: "2026-11-22T22:10:07.480+00:00"}
msg:
  description: What the call did, in one sentence.
  returned: always
  type: str
  sample: took the upgrade lock /var/lib/rolling-openstack/nova-upgrade.lock
"""

import datetime
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

SCHEMA = 1
FILE_MODE = 0o640
DIR_MODE = 0o750


class _LockError(Exception):
    """A problem with the inputs or the file; the message says what and how to fix it."""


class _Unreadable:
    """A lock file that exists but is no lock document; reason says why."""

    def __init__(self, reason):
        self.reason = reason


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec='milliseconds')


def _parse_time(value, what):
    """An ISO 8601 time (naive = UTC, 'Z' accepted) as an aware datetime; _LockError naming what otherwise."""
    text = str(value).strip()
    if text.endswith(('Z', 'z')):
        text = text[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _LockError('%s: %r is not an ISO 8601 time; give it like 2026-11-23T01:38:40+00:00 (UTC) or leave it '
                         'out to use the current time' % (what, value)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def _read(path):
    """(text, document) of the lock file: (None, None) without a file, (text, _Unreadable) for a file that is
    not a lock document, (text, dict) otherwise."""
    if os.path.isdir(path):
        raise _LockError('path %s is a directory; give the lock file, for example %s/nova-upgrade.lock'
                         % (path, path.rstrip('/')))
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise _LockError('cannot read the upgrade lock %s: %s' % (path, exc)) from None
    text = raw.decode('utf-8', errors='replace')
    if not raw.strip():
        return text, _Unreadable('it is empty')
    try:
        document = json.loads(text)
    except ValueError as exc:
        return text, _Unreadable('it is not valid JSON: %s' % exc)
    if not isinstance(document, dict) or not isinstance(document.get('id'), str) or not document['id']:
        return text, _Unreadable('it is JSON but not a lock document (no string "id")')
    return text, document


def _holder_document(holder, now):
    started = holder.get('started')
    return dict(
        schema=SCHEMA,
        id=holder['id'],
        controller=holder.get('controller') or '',
        user=holder.get('user') or '',
        pid=holder.get('pid'),
        playbook=holder.get('playbook') or '',
        started=_iso(_parse_time(started, 'holder.started')) if started else _iso(now),
        acquired=_iso(now),
    )


def _describe(document):
    """'run <id> of <user>@<controller> (pid <pid>, <playbook>) since <acquired>' for a lock document."""
    where = '%s@%s' % (document.get('user') or 'unknown', document.get('controller') or 'unknown')
    pid = document.get('pid')
    inner = 'pid %s' % (pid if pid not in (None, '') else 'unknown')
    if document.get('playbook'):
        inner += ', %s' % document['playbook']
    return 'run %s of %s (%s) since %s' % (document.get('id'), where, inner, document.get('acquired') or 'unknown')


def _held_message(path, current):
    if isinstance(current, _Unreadable):
        return ('the upgrade lock %s exists but is unreadable (%s), so it is held by an unknown run: a run killed while '
                'taking it may have left it, or another run is taking it right now. Make sure no other run of the '
                'upgrade is under way, then take the lock over with takeover=true.' % (path, current.reason))
    return ('the upgrade lock %s is held by %s: another run of the upgrade is under way. Wait for it to finish. If that '
            'run is gone (killed, its controller lost), take the lock over with takeover=true.'
            % (path, _describe(current)))


def _dump(document):
    return json.dumps(document, indent=2) + '\n'


def _make_parent(path):
    parent = os.path.dirname(path) or '.'
    if not os.path.isdir(parent):
        os.makedirs(parent, DIR_MODE)
        os.chmod(parent, DIR_MODE)
    return parent


def _create(path, text):
    """Create the lock file with text; False when it exists already (another run was quicker)."""
    _make_parent(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            os.fchmod(handle.fileno(), FILE_MODE)  # the umask may have taken bits away from FILE_MODE
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(path)  # a half-written lock would block the next run
        raise
    return True


def _replace(path, text, module):
    """Replace the lock file atomically (temp file + rename), mode 0640, keeping the owner of the file it replaces."""
    parent = _make_parent(path)
    previous = None
    try:
        previous = os.stat(path)
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        if previous is not None and (previous.st_uid, previous.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, previous.st_uid, previous.st_gid)
            except PermissionError:
                module.warn('could not keep the owner %d:%d of %s (not running as root); it is now owned by the user '
                            'running the module' % (previous.st_uid, previous.st_gid, path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _present(module, path, holder, result):
    """Take the lock, or fail naming its holder. Returns (text before, text after) for the diff."""
    for _attempt in range(2):
        old_text, current = _read(path)
        if current is not None:
            break
        document = _holder_document(holder, _now())
        new_text = _dump(document)
        if module.check_mode or _create(path, new_text):
            result.update(changed=True, exists=True, acquired=True, holder=document,
                          msg='took the upgrade lock %s' % path)
            return '', new_text
        # another run created the file between the read and the create: look at what it wrote
    else:
        raise _LockError('the upgrade lock %s appeared and disappeared twice while this run was taking it: other runs '
                         'are racing for it. Run again once they are done.' % path)
    result['exists'] = True
    readable = isinstance(current, dict)
    if readable and current['id'] == holder['id']:
        result.update(acquired=True, holder=current, msg='this run holds the upgrade lock %s already' % path)
        return old_text, old_text
    if not module.params['takeover']:
        result.update(held_by_other=True, holder=current if readable else {}, msg=_held_message(path, current))
        if module.check_mode:
            return old_text, old_text
        raise _LockError(result['msg'])
    document = _holder_document(holder, _now())
    new_text = _dump(document)
    if not module.check_mode:
        _replace(path, new_text, module)
    result.update(changed=True, acquired=True, holder=document, previous=current if readable else {})
    if readable:
        result['msg'] = 'took over the upgrade lock %s from %s' % (path, _describe(current))
    else:
        result['msg'] = 'took over the unreadable upgrade lock %s (%s)' % (path, current.reason)
    return old_text, new_text


def _absent(module, path, holder, result):
    """Release the lock when this run holds it. Returns (text before, text after) for the diff."""
    old_text, current = _read(path)
    if current is None:
        result['msg'] = 'there is no upgrade lock %s to release' % path
        return '', ''
    if isinstance(current, dict) and current['id'] == holder['id']:
        if not module.check_mode:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        result.update(changed=True, msg='released the upgrade lock %s' % path)
        return old_text, ''
    result.update(exists=True, held_by_other=True, holder=current if isinstance(current, dict) else {})
    if isinstance(current, dict):
        result['msg'] = ('left the upgrade lock %s in place: it is held by %s, not by this run (%s). A run never '
                         'releases the lock of another run.' % (path, _describe(current), holder['id']))
    else:
        result['msg'] = ('left the upgrade lock %s in place: it is unreadable (%s), so it may not be this run\'s. '
                         'Remove it by hand once no run of the upgrade is under way.' % (path, current.reason))
    module.warn(result['msg'])
    return old_text, old_text


def _query(path, holder, result):
    old_text, current = _read(path)
    if current is None:
        result['msg'] = 'there is no upgrade lock %s' % path
        return '', ''
    result['exists'] = True
    if isinstance(current, dict):
        result['holder'] = current
        mine = holder is not None and current['id'] == holder['id']
        result.update(acquired=mine, held_by_other=not mine)
        result['msg'] = 'the upgrade lock %s is held by %s' % (path, _describe(current))
    else:
        result['held_by_other'] = True
        result['msg'] = 'the upgrade lock %s is unreadable (%s)' % (path, current.reason)
    return old_text, old_text


def _run(module, result):
    """Fill in result (main's, so that a failure returns what was found, such as the other holder)."""
    params = module.params
    path = params['path']
    holder = params['holder']
    if holder is not None and not str(holder.get('id') or '').strip():
        raise _LockError('holder.id is empty: give a unique id of this run, the same for every call of the run')
    if holder is not None and holder.get('started'):
        _parse_time(holder['started'], 'holder.started')
    if params['state'] == 'present':
        before, after = _present(module, path, holder, result)
    elif params['state'] == 'absent':
        before, after = _absent(module, path, holder, result)
    else:
        before, after = _query(path, holder, result)
    if module._diff and params['state'] != 'query':
        result['diff'] = dict(before=before, after=after, before_header=path, after_header=path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', choices=['present', 'absent', 'query'], default='present'),
            holder=dict(type='dict', options=dict(
                id=dict(type='str', required=True),
                controller=dict(type='str', default=''),
                user=dict(type='str', default=''),
                pid=dict(type='int'),
                playbook=dict(type='str', default=''),
                started=dict(type='str'),
            )),
            takeover=dict(type='bool', default=False),
        ),
        required_if=[
            ('state', 'present', ['holder']),
            ('state', 'absent', ['holder']),
        ],
        supports_check_mode=True,
    )
    result = dict(changed=False, path=module.params['path'], exists=False, acquired=False, held_by_other=False,
                  holder={}, previous={}, msg='')
    try:
        _run(module, result)
    except _LockError as exc:
        result.update(changed=False, msg=str(exc))
        module.fail_json(**result)
    except OSError as exc:
        result.update(changed=False, msg='cannot take or release the upgrade lock %s: %s' % (module.params['path'], exc))
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
