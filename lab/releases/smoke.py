"""Smoke test of one service venv; run with the venv's python.

    <venv>/bin/python lab/releases/smoke.py <service> [--quick]

--quick: pip-level sanity only (console scripts answer --help, WSGI modules and
         extra packages import).  Used by lab_build_releases inside the rootfs.
default: also a functional check against a throw-away SQLite database in a temp
         dir: placement, keystone, glance, neutron: schema + real API requests
         through the WSGI application (no keystone: noauth / trusted headers);
         nova: api_db + db sync and imports of the services' managers.
         This is what catches the library pins (oslo.policy<6, neutron-lib<4).
Exit status 0 = OK.  Touches nothing outside its temp dir; no network.
"""
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

BIN = os.path.dirname(os.path.abspath(sys.executable))
SERVICE = sys.argv[1]
QUICK = '--quick' in sys.argv[2:]
TMP = tempfile.mkdtemp(prefix='rl-smoke-%s-' % SERVICE)
# WSGI apps (keystone) parse sys.argv with oslo.config: hide ours
sys.argv = [sys.argv[0]]


def say(msg):
    print('smoke[%s]: %s' % (SERVICE, msg), flush=True)


def run(*cmd, env=None):
    exe = cmd[0] if os.path.isabs(cmd[0]) else os.path.join(BIN, cmd[0])
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([exe] + list(cmd[1:]), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=full_env, cwd=TMP,
                       timeout=300)
    if p.returncode != 0:
        sys.stderr.write(p.stdout.decode(errors='replace')[-4000:])
        raise SystemExit('smoke[%s]: FAILED: %s (rc %s)'
                         % (SERVICE, ' '.join(cmd), p.returncode))
    return p.stdout.decode(errors='replace')


def helps(*scripts):
    for s in scripts:
        run(s, '--help')
    say('--help ok: ' + ' '.join(scripts))


def exists(*modules):
    """The module is there (not imported: WSGI modules build the app at import)."""
    for m in modules:
        if importlib.util.find_spec(m) is None:
            raise SystemExit('smoke[%s]: FAILED: no module %s' % (SERVICE, m))
    say('modules present: ' + ' '.join(modules))


def imports(*modules):
    for m in modules:
        importlib.import_module(m)
    say('imports ok: ' + ' '.join(modules))


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def request(app, method, path, body=None, headers=None, expect=(200,)):
    import webob
    req = webob.Request.blank(path, method=method)
    for k, v in (headers or {}).items():
        req.headers[k] = v
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = 'application/json'
    resp = req.get_response(app)
    if resp.status_int not in expect:
        raise SystemExit('smoke[%s]: FAILED: %s %s -> %s\n%s'
                         % (SERVICE, method, path, resp.status,
                            resp.body[:2000].decode(errors='replace')))
    say('%s %s -> %s' % (method, path, resp.status))
    return resp


PACKAGE = {'placement': 'placement'}


def policy_options():
    """Every [oslo_policy] option the service's code reads is registered.

    oslo.policy 6 dropped enforce_scope; code of older releases that still
    reads conf.oslo_policy.enforce_scope fails with NoSuchOptError, often only
    on some requests.  This static check finds it on every code path.
    """
    import re
    from oslo_policy import opts
    known = {o.dest for group, olist in opts.list_opts() for o in olist}
    pkg = importlib.util.find_spec(PACKAGE.get(SERVICE, SERVICE))
    root = os.path.dirname(pkg.origin)
    used = {}
    pattern = re.compile(r'\bconf\.oslo_policy\.([a-z_]+)', re.I)
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != 'tests']
        for f in files:
            if f.endswith('.py'):
                with open(os.path.join(d, f), errors='replace') as fh:
                    for name in pattern.findall(fh.read()):
                        used.setdefault(name, os.path.join(d, f))
    missing = {n: p for n, p in used.items() if n not in known}
    if missing:
        raise SystemExit('smoke[%s]: FAILED: [oslo_policy] options used but '
                         'not registered by this oslo.policy: %s'
                         % (SERVICE, missing))
    say('[oslo_policy] options used are registered: %s'
        % ' '.join(sorted(used)))


def common():
    run('uwsgi', '--version')
    imports('pymysql')
    policy_options()


# ---------------------------------------------------------------- services
def nova():
    helps('nova-manage', 'nova-status', 'nova-compute', 'nova-conductor',
          'nova-scheduler')
    exists('nova.wsgi.osapi_compute', 'nova.wsgi.metadata',
           'nova.virt.fake')
    if QUICK:
        return
    db = 'sqlite:///' + os.path.join(TMP, '%s.db')
    conf = write('nova.conf', '\n'.join([
        '[DEFAULT]', 'state_path = %s' % TMP, 'transport_url = fake://',
        '[api_database]', 'connection = ' + db % 'nova_api',
        '[database]', 'connection = ' + db % 'nova', '']))
    run('nova-manage', '--config-file', conf, 'api_db', 'sync')
    run('nova-manage', '--config-file', conf, 'db', 'sync', '--local_cell')
    say('api_db sync + db sync ok')
    run('nova-status', '--config-file', conf, 'upgrade', 'check', '--help')
    run('nova-policy', '--config-file', conf, '--help')
    imports('nova.api.openstack.compute.routes', 'nova.conductor.manager',
            'nova.scheduler.manager', 'nova.compute.manager')


def placement():
    helps('placement-manage', 'placement-status')
    exists('placement.wsgi.api')
    if QUICK:
        return
    write('placement.conf', '\n'.join([
        '[api]', 'auth_strategy = noauth2',
        '[placement_database]',
        'connection = sqlite:///' + os.path.join(TMP, 'placement.db'), '']))
    env = {'OS_PLACEMENT_CONFIG_DIR': TMP}
    run('placement-manage', '--config-dir', TMP, 'db', 'sync')
    os.environ.update(env)
    from placement.wsgi import api
    h = {'X-Auth-Token': 'admin', 'OpenStack-API-Version': 'placement latest'}
    request(api.application, 'GET', '/', headers=h)
    request(api.application, 'POST', '/resource_providers', headers=h,
            body={'name': 'rp1'}, expect=(200,))
    request(api.application, 'GET', '/resource_providers', headers=h)
    request(api.application, 'GET', '/resource_classes', headers=h)
    run('placement-status', '--config-dir', TMP, 'upgrade', 'check')


def keystone():
    helps('keystone-manage')
    exists('keystone.wsgi.api')
    if QUICK:
        return
    for d in ('fernet', 'credential'):
        os.mkdir(os.path.join(TMP, d))
    conf = write('keystone.conf', '\n'.join([
        '[database]',
        'connection = sqlite:///' + os.path.join(TMP, 'keystone.db'),
        '[fernet_tokens]', 'key_repository = ' + os.path.join(TMP, 'fernet'),
        '[fernet_receipts]', 'key_repository = ' + os.path.join(TMP, 'fernet'),
        '[credential]', 'key_repository = ' + os.path.join(TMP, 'credential'),
        '']))
    user = ['--keystone-user', 'root', '--keystone-group', 'root']
    run('keystone-manage', '--config-file', conf, 'db_sync')
    run('keystone-manage', '--config-file', conf, 'fernet_setup', *user)
    run('keystone-manage', '--config-file', conf, 'credential_setup', *user)
    run('keystone-manage', '--config-file', conf, 'bootstrap',
        '--bootstrap-password', 'smoke', '--bootstrap-region-id', 'RegionOne',
        '--bootstrap-public-url', 'http://127.0.0.1:5000/v3')
    say('db_sync, fernet_setup, bootstrap ok')
    os.environ['OS_KEYSTONE_CONFIG_FILES'] = conf
    from keystone.wsgi import api
    app = api.application
    auth = {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': 'admin', 'domain': {'id': 'default'},
            'password': 'smoke'}}},
        'scope': {'project': {'name': 'admin',
                              'domain': {'id': 'default'}}}}}
    r = request(app, 'POST', '/v3/auth/tokens', body=auth, expect=(201,))
    h = {'X-Auth-Token': r.headers['X-Subject-Token']}
    request(app, 'GET', '/v3/projects', headers=h)
    request(app, 'GET', '/v3/users', headers=h)
    request(app, 'POST', '/v3/projects', headers=h,
            body={'project': {'name': 'p1'}}, expect=(201,))
    # keystone-status loads backends before parsing --config-file: it only
    # works with /etc/keystone/keystone.conf, so it is not run here.


def glance():
    # glance >= 33 (2026.2): `glance-api` only prints "Standalone glance-api
    # is no longer supported"; the API is glance.wsgi.api:application.
    helps('glance-manage', 'glance-status')
    exists('glance.wsgi.api')
    if QUICK:
        return
    etc = os.path.join(os.path.dirname(BIN), 'etc', 'glance')
    for d in ('images', 'staging'):
        os.mkdir(os.path.join(TMP, d))
    # default pipeline with the header-trusting context filter instead of
    # unauthenticated-context (no keystone here): roles come from X-Roles
    with open(os.path.join(etc, 'glance-api-paste.ini')) as f:
        paste = write('glance-api-paste.ini', f.read().replace(
            'unauthenticated-context rootapp', 'context rootapp'))
    write('glance-api.conf', '\n'.join([
        '[DEFAULT]', 'enabled_backends = fs:file',
        'worker_self_reference_url = http://127.0.0.1:9292',
        '[database]',
        'connection = sqlite:///' + os.path.join(TMP, 'glance.db'),
        '[paste_deploy]', 'config_file = ' + paste,
        '[glance_store]', 'default_backend = fs',
        '[fs]', 'filesystem_store_datadir = ' + os.path.join(TMP, 'images'),
        '[os_glance_staging_store]',
        'filesystem_store_datadir = ' + os.path.join(TMP, 'staging'),
        '[os_glance_tasks_store]',
        'filesystem_store_datadir = ' + os.path.join(TMP, 'staging'),
        '']))
    conf = os.path.join(TMP, 'glance-api.conf')
    run('glance-manage', '--config-file', conf, 'db_sync')
    say('db_sync ok')
    os.environ['OS_GLANCE_CONFIG_DIR'] = TMP
    from glance.wsgi import api
    app = api.application
    h = {'X-Identity-Status': 'Confirmed', 'X-Roles': 'admin,member,reader',
         'X-Project-Id': 'p1', 'X-User-Id': 'u1'}
    request(app, 'GET', '/v2/images', headers=h)
    r = request(app, 'POST', '/v2/images', headers=h, expect=(201,),
                body={'name': 'smoke', 'disk_format': 'raw',
                      'container_format': 'bare'})
    image = json.loads(r.body)['id']
    import webob
    req = webob.Request.blank('/v2/images/%s/file' % image, method='PUT')
    req.headers.update(h)
    req.content_type = 'application/octet-stream'
    req.body = b'x' * 4096
    resp = req.get_response(app)
    if resp.status_int != 204:
        raise SystemExit('smoke[glance]: FAILED: upload -> %s %s'
                         % (resp.status, resp.body[:2000]))
    say('PUT /v2/images/<id>/file -> %s' % resp.status)
    r = request(app, 'GET', '/v2/images/%s' % image, headers=h)
    if json.loads(r.body)['status'] != 'active':
        raise SystemExit('smoke[glance]: FAILED: image not active')


def neutron():
    helps('neutron-db-manage', 'neutron-status')
    if os.path.exists(os.path.join(BIN, 'neutron-server')):
        helps('neutron-server')
    if os.path.exists(os.path.join(BIN, 'neutron-rpc-server')):
        helps('neutron-rpc-server', 'neutron-periodic-workers')
    exists('neutron.wsgi.api')
    if QUICK:
        return
    etc = os.path.join(os.path.dirname(BIN), 'etc', 'neutron')
    conf = write('neutron.conf', '\n'.join([
        '[DEFAULT]', 'core_plugin = ml2', 'service_plugins =',
        'auth_strategy = noauth', 'transport_url = fake://',
        'api_paste_config = ' + os.path.join(etc, 'api-paste.ini'),
        'state_path = ' + TMP,
        '[database]',
        'connection = sqlite:///' + os.path.join(TMP, 'neutron.db'),
        '[oslo_concurrency]', 'lock_path = ' + TMP,
        '']))
    ml2 = write('ml2_conf.ini', '\n'.join([
        '[ml2]', 'type_drivers = flat', 'tenant_network_types =',
        'mechanism_drivers =', 'extension_drivers = port_security',
        '[ml2_type_flat]', 'flat_networks = *', '']))
    # neutron's migrations need MySQL/PostgreSQL (no ALTER of constraints in
    # SQLite): create the head schema from the models instead.
    run('neutron-db-manage', '--config-file', conf, '--config-file', ml2,
        'heads')
    import sqlalchemy
    from neutron.db.migration.models import head
    head.get_metadata().create_all(sqlalchemy.create_engine(
        'sqlite:///' + os.path.join(TMP, 'neutron.db')))
    say('neutron-db-manage heads ok; schema created from models')
    os.environ['OS_NEUTRON_CONFIG_DIR'] = TMP
    os.environ['OS_NEUTRON_CONFIG_FILES'] = 'neutron.conf;ml2_conf.ini'
    from neutron.wsgi import api
    app = api.application
    h = {'X-Project-Id': 'p1', 'X-User-Id': 'u1',
         'X-Roles': 'admin,member,reader'}
    request(app, 'GET', '/', headers=h)
    request(app, 'GET', '/v2.0/networks', headers=h)
    r = request(app, 'POST', '/v2.0/networks', headers=h, expect=(201,),
                body={'network': {'name': 'smoke', 'project_id': 'p1',
                              'provider:network_type': 'flat',
                              'provider:physical_network': 'physnet1'}})
    net = json.loads(r.body)['network']['id']
    request(app, 'POST', '/v2.0/ports', headers=h, expect=(201,),
            body={'port': {'network_id': net, 'name': 'p',
                           'project_id': 'p1'}})
    request(app, 'GET', '/v2.0/ports?device_id=x', headers=h)
    request(app, 'GET', '/v2.0/security-groups', headers=h)
    request(app, 'GET', '/v2.0/extensions', headers=h)


if __name__ == '__main__':
    common()
    globals()[SERVICE]()
    say('OK%s' % (' (quick)' if QUICK else ''))
