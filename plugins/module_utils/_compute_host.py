# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Compute API calls shared by the host maintenance modules (compute_host_drain, compute_host_evacuate,
compute_host_restore): one base class over OpenStackModule, so that each module keeps only its own flow.

Every read is made at MV (2.84: server fields of 2.47+, migrations by server, instance action event details, and
service ids that are UUIDs), never at the newest microversion the SDK knows. What any call returns to the task
result goes through the collection's one scrubber. Never reads user_data, metadata or addresses of a server.

Private module_utils (``_`` prefix): not a public API of the collection.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from ansible_collections.openstack.cloud.plugins.module_utils.openstack import OpenStackModule
from ansible_collections.rolling.openstack.plugins.module_utils import _host_maintenance as hm
from ansible_collections.rolling.openstack.plugins.module_utils._nova_manage import scrub

MV = '2.84'

# The options compute_host_drain and compute_host_evacuate share (documented in the doc fragment
# rolling.openstack.compute_host).
MOVE_ARGUMENT_SPEC = dict(
    target_host=dict(),
    target_aggregate=dict(),
    concurrency=dict(type='int', default=2),
    state_policy=dict(type='dict', default={}),
    server_timeout=dict(type='int', default=300),
    server_timeout_per_gib=dict(type='int', default=10),
    timeout=dict(type='int', default=3600),
    poll_interval=dict(type='float', default=2.0),
    previous=dict(type='list', elements='dict', default=[]),
)


def error_text(resp):
    """Nova's message of a refused call (its fault body), or the HTTP status."""
    try:
        doc = resp.json()
    except ValueError:
        return 'HTTP %s' % resp.status_code
    if isinstance(doc, dict) and len(doc) == 1:
        inner = list(doc.values())[0]
        if isinstance(inner, dict) and inner.get('message'):
            return 'HTTP %s: %s' % (resp.status_code, inner['message'])
    return 'HTTP %s' % resp.status_code


def server_view(doc):
    """The fields of a server the host modules read (never user_data, metadata or addresses)."""
    flavor = doc.get('flavor') or {}
    return dict(id=doc.get('id'), name=doc.get('name'), status=doc.get('status'),
                host=doc.get('OS-EXT-SRV-ATTR:host'), task_state=doc.get('OS-EXT-STS:task_state'),
                vm_state=doc.get('OS-EXT-STS:vm_state'), power_state=doc.get('OS-EXT-STS:power_state'),
                flavor=dict(name=flavor.get('original_name'), ram=flavor.get('ram'), disk=flavor.get('disk'),
                            ephemeral=flavor.get('ephemeral'), vcpus=flavor.get('vcpus')),
                fault=(doc.get('fault') or {}).get('message'))


def service_view(doc):
    """The fields of a nova-compute service the host modules read."""
    return dict(id=doc.get('id'), host=doc.get('host'), binary=doc.get('binary'), status=doc.get('status'),
                state=doc.get('state'), forced_down=bool(doc.get('forced_down')),
                disabled_reason=doc.get('disabled_reason'), updated_at=doc.get('updated_at'),
                zone=doc.get('zone'))


class ComputeHostModule(OpenStackModule):
    """Base of the host maintenance modules: the API calls they share."""

    # ------------------------------------------------------------------------------------------ API

    def _api(self, method, url, body=None, ok=(200, 202, 204), microversion=MV):
        """One Compute API call: (document or {}, None) or (None, error text)."""
        kwargs = dict(microversion=microversion, raise_exc=False)
        if method in ('post', 'put'):
            kwargs['json'] = body
        resp = getattr(self.conn.compute, method)(url, **kwargs)
        if resp.status_code not in ok:
            return None, error_text(resp)
        if not resp.content:
            return {}, None
        try:
            return resp.json(), None
        except ValueError:
            return {}, None

    def _get(self, url):
        doc, err = self._api('get', url)
        if err:
            self.fail_json(msg=scrub('GET %s failed: %s' % (url.split('?')[0], err)))
        return doc

    def _services(self):
        doc = self._get('/os-services?binary=nova-compute')
        return [service_view(s) for s in doc.get('services') or []]

    def _servers_on(self, host):
        out, marker = [], None
        for _page in range(1000):  # bounded: 1000 pages of 1000
            url = '/servers/detail?all_tenants=1&host=%s&limit=1000' % quote(host, safe='')
            if marker:
                url += '&marker=%s' % marker
            page = self._get(url).get('servers') or []
            out.extend(server_view(s) for s in page)
            if len(page) < 1000:
                break
            marker = page[-1]['id']
        # the host filter is an exact match in Nova; checked again here all the same
        return [s for s in out if s['host'] == host]

    def _server(self, sid):
        doc, err = self._api('get', '/servers/%s' % sid, ok=(200,))
        if err:
            return None
        return server_view(doc.get('server') or {})

    def _migrations(self, sid):
        doc = self._get('/os-migrations?instance_uuid=%s' % sid)
        return doc.get('migrations') or []

    def _migrations_or_none(self, sid):
        """The server's migration records, or None when the API did not answer (a passing error while following a
        move: the caller looks again)."""
        doc, err = self._api('get', '/os-migrations?instance_uuid=%s' % sid)
        return None if err else doc.get('migrations') or []

    def _migrations_from(self, host, migration_type, status=None):
        """Migration records away from host of one type (and status), matched exactly."""
        url = '/os-migrations?source_compute=%s&migration_type=%s' % (quote(host, safe=''), migration_type)
        if status:
            url += '&status=%s' % status
        doc = self._get(url)
        return [m for m in doc.get('migrations') or [] if m.get('source_compute') == host
                and m.get('migration_type') == migration_type and (not status or m.get('status') == status)]

    def _nova_reason(self, sid, fault=None):
        """Nova's reason for a failed move: the server's fault, or the failed event of its newest instance action."""
        doc, err = self._api('get', '/servers/%s/os-instance-actions' % sid, ok=(200,))
        if not err:
            actions = sorted(doc.get('instanceActions') or [], key=lambda a: a.get('start_time') or '', reverse=True)
            for action in actions[:3]:
                detail, err = self._api('get', '/servers/%s/os-instance-actions/%s' % (sid, action.get('request_id')),
                                        ok=(200,))
                if err:
                    continue
                for event in (detail.get('instanceAction') or {}).get('events') or []:
                    if event.get('result') == 'Error':
                        text = event.get('details') or ((event.get('traceback') or '').strip().splitlines() or [''])[-1]
                        if text:
                            return '%s (%s, event %s)' % (text, action.get('action'), event.get('event'))
        return fault

    def _aggregate_hosts(self, name, option='target_aggregate'):
        doc = self._get('/os-aggregates')
        aggs = doc.get('aggregates') or []
        found = [a for a in aggs if a.get('name') == name or str(a.get('id')) == name or a.get('uuid') == name]
        if not found:
            self.fail_json(msg='%s=%s: no host aggregate has that name or id (aggregates: %s). Give one of them, or '
                               'leave %s out. Nothing was changed.' % (option, name, ', '.join(sorted(
                                   a.get('name') or str(a.get('id')) for a in aggs)) or 'none', option))
        return set(found[0].get('hosts') or [])

    def _check_api(self, need=MV, what='this module'):
        """Refuse an API older than `need` (before any change). Returns the API's maximum microversion (a tuple)."""
        doc, err = self._api('get', '/', ok=(200,))
        version = ((doc or {}).get('version') or {}).get('version') or ''
        try:
            have = tuple(int(x) for x in version.split('.'))
        except ValueError:
            have = ()
        if err or have < tuple(int(x) for x in need.split('.')):
            self.fail_json(msg='The Compute API answers microversion %s at most; %s needs %s. Nothing was changed.'
                               % (version or '(unknown: %s)' % err, what, need))
        return have

    # ------------------------------------------------------------------------------------------ rows

    def _earlier(self, rows):
        """Rows of O(previous) that moved, for servers that still exist and are no longer on the host, as they were."""
        here = set(r['id'] for r in rows)
        kept = []
        for row in (self.params['previous'] or [])[:10000]:
            if not isinstance(row, dict) or row.get('id') in here or row.get('status') != 'moved':
                continue
            now = self._server(row['id'])
            if now is None or now['host'] == row.get('from'):
                continue  # deleted since, or back on the host: not a row of this run
            kept.append(dict(row, earlier=True))
        return kept

    @staticmethod
    def _left(rows):
        return [dict(id=r['id'], name=r['name'], status=r['before']['status'], error=r.get('error') or r['why'])
                for r in rows if r['method'] == 'skip']

    @staticmethod
    def _summary(rows, started):
        counts = {}
        for r in rows:
            counts[r['status']] = counts.get(r['status'], 0) + 1
        counts['seconds'] = round(time.monotonic() - started, 1)
        return counts

    @staticmethod
    def _end(row, good, error, server=None):
        """Close one row: moved or failed, with Nova's message through the one scrubber (it goes into the task
        result, the report and AWX's database)."""
        row.update(status='moved' if good else 'failed', error=scrub(error),
                   seconds=round(time.monotonic() - row.get('t0', time.monotonic()), 1))
        if server and server.get('host') and server.get('host') != row['from']:
            row['to'] = server['host']
        for key in ('t0', 'deadline', 'known', 'confirmed'):
            row.pop(key, None)
        return False

    # ------------------------------------------------------------------------------------------ the moves

    # Set by a module's _start when Nova refused in a way that holds for every server: nothing more is issued.
    _stop_issuing = None

    def _pick(self, queue, inflight):
        """The next row to start (None: none may start now). The drain overrides it (live migrations per source)."""
        return queue[0]

    def _moves(self, source, rows, dests, by_aggregate, started, what, target=None):
        """Start the planned rows with bounded concurrency (to target, else target_host, else spread over the
        aggregate's hosts), follow each with _poll until it ends, within the overall timeout.

        _start(row, dest) -> True when something is in flight; _poll(row, source, deadline) -> None while it goes
        on, False when it ended, True when the row must be started again (the drain's confirm-then-move);
        _timeout(row, migration) closes a row still in flight when the looks ran out."""
        p = self.params
        deadline = started + p['timeout']
        queue = [r for r in rows if r['status'] == 'planned']
        inflight = []
        load = {}
        # bounded by the overall timeout (each look takes at least poll_interval), and by a count all the same
        for _tick in range(int(p['timeout'] / p['poll_interval']) + 10):
            while queue and len(inflight) < p['concurrency'] and time.monotonic() < deadline:
                pick = self._pick(queue, inflight)
                if pick is None:
                    break
                queue.remove(pick)
                dest = target or p.get('target_host') or (hm.pick_destination(dests, load) if by_aggregate else None)
                if self._start(pick, dest):
                    load[dest] = load.get(dest, 0) + 1
                    inflight.append(pick)
                if self._stop_issuing:
                    for row in queue:
                        row.update(status='not started', error='not issued: %s' % self._stop_issuing)
                    queue = []
            if not inflight and (not queue or time.monotonic() >= deadline):
                break
            time.sleep(p['poll_interval'])
            for row in list(inflight):
                follow_up = self._poll(row, source, deadline)
                if follow_up is not None:
                    inflight.remove(row)
                    if follow_up:
                        queue.insert(0, row)
        for row in inflight:  # only when the count ran out before the clock
            self._timeout(row, None)
        for row in queue:
            row.update(status='not started', error='the %s\'s timeout (%d s) ended before it started'
                       % (what, p['timeout']))

    def _remaining(self, source, rows):
        """The servers still on the host, each with its row's error (or plan) as the reason."""
        return [dict(id=s['id'], name=s['name'], status=s['status'],
                     error=next((r.get('error') for r in rows if r['id'] == s['id'] and r.get('error')), None)
                     or next((r.get('why') for r in rows if r['id'] == s['id']), None))
                for s in self._servers_on(source)]


class MigrationMoves(ComputeHostModule):
    """The live and cold migrations (and resize confirms) of compute_host_drain and compute_host_move_back: how one
    row is started, followed, judged and timed out. A row's source is row['from']."""

    def _pick(self, queue, inflight):
        """The first row that may start: live migrations are also bounded per source (live_concurrency)."""
        live_now = sum(1 for r in inflight if r['method'] == 'live')
        return next((r for r in queue if r['method'] != 'live' or live_now < self.params['live_concurrency']), None)

    def _start(self, row, dest):
        """Issue the move of one row (or adopt the one in flight). True when something is in flight."""
        sid = row['id']
        row['t0'] = time.monotonic()
        row['deadline'] = row['t0'] + hm.server_timeout(row['flavor'], self.params['server_timeout'],
                                                        self.params['server_timeout_per_gib'])
        if row.pop('adopted', False):
            return True  # an earlier run's migration in flight: followed, not issued again
        row['known'] = [m.get('id') for m in self._migrations(sid)]
        if row['method'] == 'live':
            body = {'os-migrateLive': {'block_migration': 'auto', 'host': dest}}
        elif row['method'] == 'cold':
            body = {'migrate': {'host': dest} if dest else None}
        else:
            body = {'confirmResize': None}
        _doc, err = self._api('post', '/servers/%s/action' % sid, body)
        if err:
            row.update(status='failed', error=scrub('Nova refused the %s: %s' % (
                {'live': 'live migration', 'cold': 'cold migration', 'confirm': 'confirm'}[row['method']], err)),
                seconds=0.0)
            return False
        return True

    def _find_migration(self, row, migs):
        kinds = {'live': ('live-migration',), 'cold': ('migration', 'resize'), 'confirm': ('migration', 'resize')}
        new = [m for m in migs
               if m.get('id') not in (row.get('known') or []) and m.get('migration_type') in kinds[row['method']]]
        if not new and row['method'] == 'confirm':
            new = [m for m in migs if m.get('status') in ('finished', 'confirming', 'confirmed')]
        return sorted(new, key=lambda m: m.get('created_at') or '')[-1] if new else None

    def _poll(self, row, _source, deadline):
        """Look at one move in flight (its source is row['from']). Returns None while it goes on, False when it ended,
        True when the server has to be moved again (it was confirmed on its source)."""
        migs = self._migrations_or_none(row['id'])
        if migs is None:  # a passing API error: look again, until the row's deadline
            return self._timeout(row, None) if time.monotonic() >= min(row['deadline'], deadline) else None
        mig = None
        if row.get('migration'):
            mig = next((m for m in migs if m.get('id') == row['migration']), None)
        else:
            mig = self._find_migration(row, migs)
            if mig:
                row['migration'] = mig.get('id')
        status = (mig or {}).get('status')
        kind = row['method']
        if status == hm.COLD_FINISHED and kind in ('cold', 'confirm'):
            if kind == 'cold' and not row.get('confirmed'):
                server = self._server(row['id'])
                if server and server['status'] == 'VERIFY_RESIZE' and not server['task_state']:
                    _doc, err = self._api('post', '/servers/%s/action' % row['id'], {'confirmResize': None})
                    if err:
                        return self._end(row, False, 'the confirm of its cold migration failed: %s' % err)
                    row['confirmed'] = True
        elif mig and hm.migration_over(kind if kind != 'confirm' else 'cold', mig):
            server = self._server(row['id']) or {}
            if kind == 'confirm':
                if status == 'confirmed' and server.get('host') == row['from']:
                    nxt = hm.after_confirm(server.get('status'))
                    if nxt:
                        row.update(method=nxt, migration=None, status='planned', before=dict(
                            status=server['status'], power_state=server['power_state']),
                            why='confirmed on %s, then %s' % (row['from'], 'live migration' if nxt == 'live' else
                                                              'cold migration'))
                        return True
                good = status == 'confirmed' and server.get('host') != row['from']
                return self._end(row, good, None if good else self._why(row, server, mig), server)
            good, why = hm.judge(kind, row['before'], server, mig, row['from'])
            if not good and server.get('task_state') and status in hm.FINAL_GOOD[kind] \
                    and time.monotonic() < row['deadline']:
                return None  # the record is final, the server's task not yet: look again
            return self._end(row, good, None if good else self._why(row, server, mig, why), server)
        if time.monotonic() >= min(row['deadline'], deadline):
            return self._timeout(row, mig)
        return None

    def _why(self, row, server, mig, why=None):
        reason = self._nova_reason(row['id'], server.get('fault'))
        text = why or 'its migration record is %s' % (mig or {}).get('status')
        return '%s%s' % (text, ('. Nova: %s' % reason) if reason else '')

    def _timeout(self, row, mig):
        action = self.params['on_timeout']
        said = 'left to run'
        if row['method'] == 'live' and mig and action != 'leave':
            if action == 'abort':
                _doc, err = self._api('delete', '/servers/%s/migrations/%s' % (row['id'], mig.get('id')))
                said = 'aborted' if not err else 'abort refused (%s)' % err
            else:
                _doc, err = self._api('post', '/servers/%s/migrations/%s/action' % (row['id'], mig.get('id')),
                                      {'force_complete': None})
                said = 'force-completed' if not err else 'force complete refused (%s)' % err
        self._end(row, False, 'timed out after %d s with its migration record %s; %s (on_timeout=%s)' % (
            round(time.monotonic() - row['t0']), (mig or {}).get('status') or 'not yet created', said, action))
        row['status'] = 'timeout'
        return False


def row(server, source, plan):
    """The report row of one server of the host, as planned."""
    return dict(id=server['id'], name=server['name'], method=plan['method'], why=plan['why'],
                status='planned' if plan['method'] != 'skip' else 'skipped', seconds=None, error=None,
                migration=None, to=None, before=dict(status=server['status'], power_state=server['power_state']),
                flavor=server['flavor'], **{'from': source})


def check_common(params, keys_ge1=('concurrency',), keys_seconds=('server_timeout', 'timeout')):
    """Problems of the numbers every host module has (each names the value and the fix)."""
    problems = []
    for key in keys_ge1:
        if params[key] < 1:
            problems.append('%s=%d: at least one move must be allowed at a time; use 1 or more.' % (key, params[key]))
    for key in keys_seconds:
        if params[key] < 1:
            problems.append('%s=%d: use a number of seconds, 1 or more.' % (key, params[key]))
    if params.get('server_timeout_per_gib', 0) < 0:
        problems.append('server_timeout_per_gib=%d: use 0 or more seconds.' % params['server_timeout_per_gib'])
    if params['poll_interval'] <= 0:
        problems.append('poll_interval=%s: use a number of seconds above 0.' % params['poll_interval'])
    if 'state_policy' in params:
        problems.extend(hm.check_policies(params['state_policy']))
    return problems
