#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: haproxy_server
short_description: Drain an API server in HAProxy, put it in maintenance, or make it ready again
version_added: 0.1.0
author: rolling.openstack contributors (@rolling-openstack)
description:
  - Sets the administrative state of one server of an HAProxy backend (C(set server <backend>/<server> state
    ready|drain|maint)) through HAProxy's runtime API on its admin UNIX socket, then waits until the change has
    taken effect. Run it B(on the HAProxy host) (C(delegate_to) the load balancer); it needs only Python's
    standard library, no C(socat).
  - O(state=drain) stops new requests to the server (requests with persistence to it, such as a stick table or a
    cookie, still go there) and waits until its current sessions and queued requests reach 0, so the service
    behind it can be restarted without cutting a request. O(state=maint) takes the server out completely (its
    health checks stop too) and waits the same way.
  - O(state=ready) puts the server back and waits until HAProxy's health check reports it C(UP) with full health
    (not C(UP 1/2), which HAProxy shows right after leaving maintenance, before any check has passed). A server
    without a health check is ready as soon as it is set ready.
  - Idempotent on the state forced through the runtime API; when the server already is in the requested
    state nothing is sent, but the module still waits.
notes:
  - The roll phase drains a server, waits for its sessions to end, restarts the service, waits until the
    service answers on its own, then sets the server ready. Prefer O(state=drain) to O(state=maint) around a
    restart; in drain HAProxy keeps checking the server, so it sees it go down and come back. Leaving
    maintenance, HAProxy sends traffic at once and learns about a dead server only after C(fall) failed checks.
  - HAProxy's last check result can predate a restart (checks run every C(inter)). Set a restarted server
    ready only after the service answers (for example with M(ansible.builtin.uri) against the server itself).
  - The socket must be declared with C(level admin) (C(stats socket /run/haproxy/admin.sock mode 660 level
    admin) in the C(global) section), and the task must run as a user who may open it (usually
    C(become=true)). Reading the state works on a C(level user) socket, so check mode does too.
  - The state set through the runtime API is lost when HAProxy restarts or reloads without a server state
    file (C(load-server-state-from-file)).
  - Servers inherit maintenance or drain from a server they C(track); set the tracked server instead.
  - Tested with HAProxy 2.6 (Debian 12). C(set server ... state), C(show servers state) and C(show stat) exist since
    HAProxy 1.6; C(show cli level) only serves to refuse a socket without C(level admin) before any change, and is
    skipped where HAProxy does not know it.
options:
  socket:
    description:
      - Path of HAProxy's admin UNIX socket on the host the module runs on.
    type: path
    default: /run/haproxy/admin.sock
  backend:
    description:
      - The backend (C(backend) or C(listen) section) the server belongs to, for example C(nova_back).
    type: str
    required: true
  server:
    description:
      - The server's name in that backend (the name after C(server) in the configuration), for example C(ctl2).
    type: str
    required: true
  state:
    description:
      - V(ready) puts the server back in the load-balancing rotation, V(drain) sends it no new requests
        (except persistent ones), V(maint) takes it out completely and stops its health checks.
    type: str
    required: true
    choices: [ready, drain, maint]
  drain_others:
    description:
      - With O(state=ready) and O(wait) only, servers of the same backend to B(drain as soon as) the server is C(UP)
        (its health check passed; before that the backend would be left without a server and answer 503). They are
        drained in one command line (C(set server B/O state drain;...)). The live upgrade uses it for the API tier. Once the first
        API node runs the new code, every API node still on the old code leaves the load balancer until it is upgraded
        too, so that old and new API code never serve side by side (a server created through a new node and read
        through an old one fails with C(IncompatibleObjectVersion)).
      - The module then also waits until their sessions end. Servers already drained or in maintenance
        are left as they are.
    type: list
    elements: str
    default: []
  wait:
    description:
      - Wait until the change has taken effect. For V(drain) and V(maint), until the server has no current
        session and no queued request; for V(ready), until its status is C(UP) (or it has no health check).
      - No waiting happens in check mode.
    type: bool
    default: true
  timeout:
    description:
      - The most seconds to wait (the state is polled every half second). The module fails when the wait has
        not succeeded by then; the state it set stays set.
      - V(0) looks once and fails at once when the condition does not hold.
    type: int
    default: 60
extends_documentation_fragment:
  - rolling.openstack.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the state and reports whether it would change, in C(changed) and RV(command); sends no change and
        does not wait.
  diff_mode:
    support: full
    details:
      - The diff shows the administrative state before and after.
  idempotent:
    support: full
    details:
      - A server already in the requested state is left alone (C(changed=false)); the module still waits.
seealso:
  - name: HAProxy management guide, runtime API
    description: The C(show stat), C(show servers state) and C(set server) commands and the status values.
    link: https://docs.haproxy.org/2.6/management.html#9.3
  - name: HAProxy configuration, stats socket
    description: The C(level admin) setting the socket needs.
    link: https://docs.haproxy.org/2.6/configuration.html#5.1-level
"""

EXAMPLES = r"""
- name: Take nova-api on this controller out of the load balancer, waiting for in-flight requests
  rolling.openstack.haproxy_server:
    backend: nova_back
    server: "{{ inventory_hostname }}"
    state: drain
    timeout: 120
  delegate_to: "{{ groups['haproxy'][0] }}"
  become: true

- name: Restart nova-api on the new code
  ansible.builtin.systemd_service:
    name: nova-api
    state: restarted
  become: true

- name: Wait until nova-api answers on this controller
  ansible.builtin.uri:
    url: "http://{{ ansible_host }}:8774/"
    status_code: [200, 300]
  register: nova_api_root
  until: nova_api_root is succeeded
  retries: 30
  delay: 2

- name: Put it back and wait until HAProxy's health check sees it UP
  rolling.openstack.haproxy_server:
    backend: nova_back
    server: "{{ inventory_hostname }}"
    state: ready
  delegate_to: "{{ groups['haproxy'][0] }}"
  become: true

- name: Only set maintenance, without waiting for the sessions to end, on a socket at another path
  rolling.openstack.haproxy_server:
    socket: /var/lib/haproxy/stats
    backend: placement_back
    server: ctl2
    state: maint
    wait: false
  become: true
"""

RETURN = r"""
before:
  description: The server as HAProxy reported it before the change.
  returned: always
  type: dict
  contains:
    status:
      description:
        - HAProxy's status of the server (C(show stat)), for example C(UP), C(UP 1/2) (up, one check failed or
          none passed yet since leaving maintenance), C(DOWN), C(DOWN 1/2) (down, one check passed),
          C(DRAIN), C(NOLB), C(MAINT), C(MAINT (via backend/server)), C(MAINT (resolution)), C(no check).
      type: str
      sample: UP
    admin_state:
      description:
        - The effective administrative state, V(ready), V(drain) or V(maint), whether forced through the runtime
          API, inherited from a tracked server or set in the configuration.
      type: str
      sample: ready
    admin_flags:
      description:
        - HAProxy's administrative flags of the server (C(show servers state)); C(FMAINT) and C(FDRAIN) are the
          ones this module sets, C(IMAINT) and C(IDRAIN) are inherited from a tracked server, C(CMAINT) is
          C(disabled) in the configuration, C(RMAINT) is a failed address resolution.
        - Empty when HAProxy did not answer C(show servers state).
      type: list
      elements: str
      sample: []
    weight:
      description: The weight haproxy reports for the server (C(show stat)); it stays as it was while the server is drained.
      type: int
      sample: 1
    uweight:
      description: The weight set by the configuration or C(set weight); 0 means the server gets no traffic even when ready.
      type: int
      sample: 1
    scur:
      description: Current sessions on the server.
      type: int
      sample: 0
    qcur:
      description: Requests queued for the server.
      type: int
      sample: 0
    check_status:
      description: The result of the last health check (C(L7OK), C(L4CON), C(L7STS) ...), empty without an active check.
      type: str
      sample: L7OK
    check_desc:
      description: HAProxy's description of the last check result.
      type: str
      sample: Layer7 check passed
    last_check:
      description: The detail of the last check (for example C(Connection refused)), often empty.
      type: str
      sample: Connection refused
after:
  description:
    - The server as HAProxy reported it at the end (after the wait). Same keys as RV(before).
    - In check mode, RV(before) with the administrative state that would be set.
  returned: always
  type: dict
  sample:
    status: DRAIN
    admin_state: drain
    admin_flags: [FDRAIN]
    weight: 1
    uweight: 1
    scur: 0
    qcur: 0
    check_status: L7OK
    check_desc: Layer7 check passed
    last_check: ""
waited:
  description: Seconds spent waiting (0 without O(wait) and in check mode).
  returned: always
  type: float
  sample: 2.5
others:
  description: The servers of O(drain_others), each as HAProxy reported it at the end (same keys as RV(before)).
  returned: always
  type: dict
  sample: {ctl2: {status: DRAIN, admin_state: drain, scur: 0, qcur: 0}}
command:
  description: The runtime API command sent (or that would be sent in check mode); null when the server already was in the state.
  returned: always
  type: str
  sample: set server placement_back/ctl2 state drain
"""

import csv
import io
import os
import re
import socket
import stat
import time

from ansible.module_utils.basic import AnsibleModule

_POLL_INTERVAL = 0.5
_IO_TIMEOUT = 10.0
_MAX_ANSWER = 64 * 1024 * 1024
_NAME = re.compile(r'^[A-Za-z0-9_.:-]+$')

# Administrative flags of "show servers state" (srv_admin_state), enum srv_admin of HAProxy 1.6 and later.
_ADMIN_FLAGS = (
    (0x01, 'FMAINT'),
    (0x02, 'IMAINT'),
    (0x04, 'CMAINT'),
    (0x08, 'FDRAIN'),
    (0x10, 'IDRAIN'),
    (0x20, 'RMAINT'),
)
_FMAINT = 0x01
_FDRAIN = 0x08
_MAINT_MASK = 0x23
_DRAIN_MASK = 0x18

# The forced flags each state leaves set, after "set server ... state <state>".
_FORCED = {'ready': 0, 'drain': _FDRAIN, 'maint': _FMAINT}


class _HAProxyError(Exception):
    """A failure with a message for the user."""


class _TimeoutError(_HAProxyError):
    """The wait did not succeed in time; carries the last view of the server and the seconds waited."""

    def __init__(self, msg, view, waited):
        super().__init__(msg)
        self.view = view
        self.waited = waited


def _check_socket(path):
    """Fail early, with the fix, when path is not a UNIX socket."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise _HAProxyError(
            'socket %s (option socket) does not exist: is haproxy running on this host, and does its global section '
            'declare it (stats socket %s mode 660 level admin)? Give the right path in option socket.'
            % (path, path)) from None
    except PermissionError:
        raise _HAProxyError('cannot reach socket %s (option socket): permission denied on a parent directory; '
                            'run the task as root (become: true).' % path) from None
    if not stat.S_ISSOCK(mode):
        raise _HAProxyError('%s (option socket) is not a UNIX socket; give the path of the stats socket declared with '
                            '"stats socket <path> level admin" in haproxy\'s global section.' % path)


def _receive(sock, command):
    """Read the answer until haproxy closes the connection (one command per connection), within _IO_TIMEOUT."""
    chunks = []
    size = 0
    deadline = time.monotonic() + _IO_TIMEOUT
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            return b''.join(chunks).decode('utf-8', 'replace')
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_ANSWER:
            raise _HAProxyError('the answer to "%s" is larger than %d bytes.' % (command, _MAX_ANSWER))
    raise socket.timeout()


def _command(path, command):
    """Send one runtime API command on the UNIX socket at path; return haproxy's whole answer as text."""
    _check_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(_IO_TIMEOUT)
    try:
        sock.connect(path)
        sock.sendall(command.encode('ascii') + b'\n')
        return _receive(sock, command)
    except PermissionError:
        raise _HAProxyError(
            'permission denied on socket %s (option socket): run the task as root (become: true) or as a member of '
            'the socket\'s group; the socket also needs "level admin" to change a server\'s state.' % path) from None
    except ConnectionRefusedError:
        raise _HAProxyError('nothing answers on socket %s (option socket): haproxy is not running, or the socket is '
                            'left over from an old process.' % path) from None
    except socket.timeout:
        raise _HAProxyError('haproxy did not answer "%s" on socket %s within %g seconds.'
                            % (command, path, _IO_TIMEOUT)) from None
    except OSError as exc:
        raise _HAProxyError('talking to haproxy on socket %s (option socket) failed: %s'
                            % (path, exc.strerror or exc)) from None
    finally:
        sock.close()


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _parse_stat(text):
    """Parse "show stat" CSV; return {backend: {server: row}} for server rows (FRONTEND/BACKEND rows left out)."""
    if not text.startswith('# pxname,svname,'):
        first = (text.strip().splitlines() or [''])[0]
        raise _HAProxyError('unexpected answer to "show stat": %r; is this haproxy\'s stats socket?' % first[:200])
    rows = csv.reader(io.StringIO(text[2:]))
    header = next(rows)
    backends = {}
    for row in rows:
        if len(row) < 2 or row[1] in ('FRONTEND', 'BACKEND'):
            continue
        backends.setdefault(row[0], {})[row[1]] = dict(zip(header, row))
    return backends


def _parse_servers_state(text, backend):
    """Parse "show servers state <backend>"; return {server: srv_admin_state}, {} when the format is not known."""
    lines = text.splitlines()
    if len(lines) < 2 or not lines[1].startswith('# '):
        return {}
    header = lines[1][2:].split()
    if 'srv_name' not in header or 'srv_admin_state' not in header or 'be_name' not in header:
        return {}
    flags = {}
    for line in lines[2:]:
        fields = dict(zip(header, line.split()))
        if fields.get('be_name') == backend and 'srv_admin_state' in fields:
            flags[fields['srv_name']] = _int(fields['srv_admin_state'])
    return flags


def _admin_state(flags, status):
    """The effective administrative state from the flags, or from the status when the flags are not known."""
    if flags is None:
        word = status.split(' ', 1)[0]
        return {'MAINT': 'maint', 'DRAIN': 'drain'}.get(word, 'ready')
    if flags & _MAINT_MASK:
        return 'maint'
    if flags & _DRAIN_MASK:
        return 'drain'
    return 'ready'


def _read(path, backend, server):
    """The server's state: (view dict, forced flags or None when HAProxy did not give the flags)."""
    backends = _parse_stat(_command(path, 'show stat -1 4 -1'))
    if backend not in backends:
        raise _HAProxyError('backend %r not found in haproxy (show stat on %s); backends with servers: %s'
                            % (backend, path, ', '.join(sorted(backends)) or 'none'))
    servers = backends[backend]
    if server not in servers:
        raise _HAProxyError('server %r not found in backend %s; its servers: %s'
                            % (server, backend, ', '.join(sorted(servers))))
    row = servers[server]
    flags = _parse_servers_state(_command(path, 'show servers state %s' % backend), backend).get(server)
    status = row.get('status', '')
    view = dict(
        status=status,
        admin_state=_admin_state(flags, status),
        admin_flags=[name for bit, name in _ADMIN_FLAGS if flags and flags & bit],
        weight=_int(row.get('weight')),
        uweight=_int(row.get('uweight', row.get('weight'))),
        scur=_int(row.get('scur')),
        qcur=_int(row.get('qcur')),
        check_status=row.get('check_status', ''),
        check_desc=row.get('check_desc', ''),
        last_check=row.get('last_chk', ''),
    )
    return view, (None if flags is None else flags & (_FMAINT | _FDRAIN))


def _needs_change(state, view, forced):
    if forced is None:
        return view['admin_state'] != state
    return forced != _FORCED[state]


def _done(state, view):
    """Whether the wait for state is over."""
    if state == 'ready':
        return view['status'] in ('UP', 'no check')
    return view['scur'] == 0 and view['qcur'] == 0


def _describe(view):
    text = 'status %s, %d current session(s), %d queued' % (view['status'], view['scur'], view['qcur'])
    if view['check_status']:
        text += ', last check %s' % view['check_status']
        detail = ': '.join(x for x in (view['check_desc'], view['last_check']) if x)
        if detail:
            text += ' (%s)' % detail
    return text


def _timeout_message(params, view):
    name = '%s/%s' % (params['backend'], params['server'])
    if params['state'] == 'ready':
        msg = ('%s is ready but haproxy did not report it UP within %d seconds; last seen: %s. The service may not '
               'be answering its health check' % (name, params['timeout'], _describe(view)))
        if {'IMAINT', 'IDRAIN'} & set(view['admin_flags']) or view['status'].startswith('MAINT (via'):
            msg += '; the server inherits maintenance or drain from the server it tracks: set that one ready'
        elif 'RMAINT' in view['admin_flags']:
            msg += '; haproxy could not resolve its address'
        return msg + '.'
    return ('%s is in %s but still has sessions after %d seconds; last seen: %s. Requests in flight may be long '
            '(raise timeout), or persistent connections keep it busy.'
            % (name, params['state'], params['timeout'], _describe(view)))


def _wait(module, view):
    """Poll until the wait condition holds; return (last view, seconds waited). Fails on timeout."""
    params = module.params
    start = time.monotonic()
    deadline = start + params['timeout']
    for _attempt in range(int(params['timeout'] / _POLL_INTERVAL) + 2):
        if _done(params['state'], view):
            return view, time.monotonic() - start
        now = time.monotonic()
        if now >= deadline:
            break
        time.sleep(min(_POLL_INTERVAL, deadline - now))
        view = _read(params['socket'], params['backend'], params['server'])[0]
    raise _TimeoutError(_timeout_message(params, view), view, time.monotonic() - start)


def _level_message(path, command, answer):
    return ('haproxy refuses "%s" on socket %s (option socket): %s. The socket needs "level admin" in its line in '
            'haproxy.cfg (stats socket %s mode 660 level admin).' % (command, path, answer, path))


def _check_level(path, command):
    """Fail before any change (and in check mode) when the socket's access level cannot change a server's state."""
    level = _command(path, 'show cli level').strip()
    if level in ('user', 'operator'):
        raise _HAProxyError(_level_message(path, command, 'the socket\'s level is %s' % level))


def _check_params(module):
    params = module.params
    for name in ('backend', 'server'):
        if not _NAME.match(params[name]):
            module.fail_json(msg='%s=%r is not a haproxy name: use the name from haproxy.cfg, made of letters, digits '
                                 'and "-", "_", ".", ":" (no spaces, ";" or "/").' % (name, params[name]))
    if params['timeout'] < 0:
        module.fail_json(msg='timeout=%d is negative: give the seconds to wait, 0 or more.' % params['timeout'])
    for other in params['drain_others']:
        if not _NAME.match(other) or other == params['server']:
            module.fail_json(msg='drain_others: %r is not another haproxy server name of backend %s.' % (other, params['backend']))
    if params['drain_others'] and params['state'] != 'ready':
        module.fail_json(msg='drain_others needs state=ready (it drains those servers as this one comes back).')
    if params['drain_others'] and not params['wait']:
        module.fail_json(msg='drain_others needs wait=true: the others are drained only once this server is UP, so that '
                             'the backend is never left without a server; set wait to true.')


def _wait_others(module, others, result, deadline):
    """Wait until the drained others have no session left, by deadline (that of the whole wait, so that timeout bounds
    it all); fail naming the first that keeps one."""
    params = module.params
    for name in others:
        view = result['others'][name]
        for _attempt in range(int(params['timeout'] / _POLL_INTERVAL) + 2):
            now = time.monotonic()
            if _done('drain', view) or now >= deadline:
                break
            time.sleep(min(_POLL_INTERVAL, deadline - now))
            view = _read(params['socket'], params['backend'], name)[0]
        result['others'][name] = view
        if not _done('drain', view):
            raise _HAProxyError('%s/%s was drained but still has sessions after %d seconds; last seen: %s.'
                                % (params['backend'], name, params['timeout'], _describe(view)))


def _others_to_drain(params, result):
    """The commands that drain the servers of drain_others still in the rotation (each read into result['others']);
    servers already drained or in maintenance are left as they are."""
    commands = []
    for other in params['drain_others']:
        view, other_forced = _read(params['socket'], params['backend'], other)
        result['others'][other] = view
        if view['admin_state'] == 'ready' and _needs_change('drain', view, other_forced):
            commands.append('set server %s/%s state drain' % (params['backend'], other))
    return commands


def _drained_names(commands):
    return [c.split(' ')[2] for c in commands]


def _diff(params, before, views, others):
    """--diff: this server's admin state, and that of each server drain_others drains."""
    name = '%s/%s' % (params['backend'], params['server'])
    drained = _drained_names(others)
    old = {name: before['admin_state']}
    new = {name: params['state']}
    for full in drained:
        old[full] = views[full.split('/', 1)[1]]['admin_state']
        new[full] = 'drain'
    if not drained:
        return dict(before=dict(admin_state=before['admin_state']), after=dict(admin_state=params['state']),
                    before_header=name, after_header=name)
    return dict(before=old, after=new, before_header=params['backend'], after_header=params['backend'])


def _send(path, command):
    """Send "set server" commands (each answers nothing on success); fail with haproxy's answer otherwise."""
    answer = _command(path, command).strip()
    if answer:
        if 'Permission denied' in answer:
            raise _HAProxyError(_level_message(path, command, 'Permission denied'))
        raise _HAProxyError('haproxy refused "%s": %s' % (command, answer))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type='path', default='/run/haproxy/admin.sock'),
            backend=dict(type='str', required=True),
            server=dict(type='str', required=True),
            state=dict(type='str', required=True, choices=['ready', 'drain', 'maint']),
            wait=dict(type='bool', default=True),
            timeout=dict(type='int', default=60),
            drain_others=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    _check_params(module)
    params = module.params
    name = '%s/%s' % (params['backend'], params['server'])
    result = dict(changed=False, before={}, after={}, waited=0.0, command=None, others={})
    try:
        before, forced = _read(params['socket'], params['backend'], params['server'])
        result['before'] = before
        result['after'] = dict(before)
        own = []
        if _needs_change(params['state'], before, forced):
            own.append('set server %s state %s' % (name, params['state']))
        others = _others_to_drain(params, result)
        commands = own + others
        if commands:
            result['changed'] = True
            result['command'] = ';'.join(commands)
            if module._diff:
                result['diff'] = _diff(params, before, result['others'], others)
            _check_level(params['socket'], result['command'])
            if module.check_mode:
                result['after']['admin_state'] = params['state']
                module.exit_json(msg='check mode: would set %s %s (now %s)%s' % (
                    name, params['state'], _describe(before),
                    ('; then, once it is UP, drain %s' % ', '.join(_drained_names(others))) if others else ''), **result)
            if own:
                _send(params['socket'], ';'.join(own))
                result['after'] = _read(params['socket'], params['backend'], params['server'])[0]
        if params['wait'] and not module.check_mode:
            started = time.monotonic()
            try:
                result['after'], _waited = _wait(module, result['after'])
                if params['drain_others']:
                    # Only now that this server is UP (its health check passed) do the others leave: draining them
                    # while it is still DOWN 1/2 would leave the backend without a server (HTTP 503). Read again: a
                    # server may have changed state meanwhile.
                    others = _others_to_drain(params, result)
                    if others:
                        _send(params['socket'], ';'.join(others))
                    for other in result['others']:
                        result['others'][other] = _read(params['socket'], params['backend'], other)[0]
                    _wait_others(module, list(result['others']), result, started + params['timeout'])
            finally:
                result['waited'] = round(time.monotonic() - started, 1)
    except _TimeoutError as exc:
        result['after'] = exc.view
        result['waited'] = round(exc.waited, 1)
        module.fail_json(msg=str(exc), **result)
    except _HAProxyError as exc:
        module.fail_json(msg=str(exc), **result)
    if params['state'] == 'ready' and result['after'].get('uweight') == 0:
        module.warn('%s is ready but its weight is 0, so it gets no traffic; set its weight (set weight %s 100%%).'
                    % (name, name))
    verb = 'set' if result['changed'] else 'already'
    module.exit_json(msg='%s %s %s: %s' % (name, verb, params['state'], _describe(result['after'])), **result)


if __name__ == '__main__':
    main()
