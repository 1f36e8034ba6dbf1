# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the names of Nova's databases as JSON, never their URLs or passwords.

Run with the Python of the running Nova code on a controller (the role feeds this file on stdin):
  <nova python> - --config-file /etc/nova/nova.conf [--rolling-config-sets='[["/etc/nova/nova.conf", "/etc/nova/cell2.conf"]]']
Output (one line): {"api": {"database": "nova_api", "host": "10.0.0.5", "port": null, "driver": "mysql+pymysql"},
                     "main": {...the cell of [database] connection, the one `nova-manage db sync` migrates},
                     "cells": [{"name": "cell0", "uuid": "...", "database": "nova_cell0", "host": ..., "port": ...}],
                     "config_sets": [{"files": [...], "database": ..., "host": ..., "port": ...} or {"files", "error"}]}
(each config set: the [database] connection its files give, the last file that sets it winning, as oslo.config reads it)
Errors: {"error": "<exception type>: <message without credentials>"} and exit code 1.
"""
import json
import re
import sys

URL_RE = re.compile(r'\b([A-Za-z][A-Za-z0-9+.\-]*://)[^\s\'"]*@')


def location(url):
    from sqlalchemy.engine import url as sa_url
    parsed = sa_url.make_url(url)
    return dict(database=parsed.database, host=parsed.host, port=parsed.port, driver=parsed.drivername)


def config_set_location(files):
    import configparser
    connection = None
    for path in files:
        parser = configparser.RawConfigParser(strict=False)
        try:
            with open(path, encoding='utf-8') as handle:
                parser.read_file(handle)
        except (OSError, configparser.Error) as exc:
            return dict(files=files, error='%s: %s' % (path, type(exc).__name__))
        if parser.has_option('database', 'connection'):
            connection = parser.get('database', 'connection')
    if not connection:
        return dict(files=files, error='none of these files sets [database] connection')
    doc = dict(files=files)
    doc.update(location(connection.replace('$$', '$')))
    return doc


def main(argv):
    sets = [a for a in argv if a.startswith('--rolling-config-sets=')]
    argv = [a for a in argv if not a.startswith('--rolling-config-sets=')]
    from nova import config
    from nova import context
    from nova import objects
    import nova.conf

    config.parse_args(['rolling-nova-databases'] + argv)
    objects.register_all()
    doc = dict(api=location(nova.conf.CONF.api_database.connection), cells=[])
    if nova.conf.CONF.database.connection:
        doc['main'] = location(nova.conf.CONF.database.connection)
    for mapping in objects.CellMappingList.get_all(context.get_admin_context()):
        cell = dict(name=mapping.name, uuid=mapping.uuid, is_cell0=mapping.is_cell0())
        cell.update(location(mapping.database_connection))
        doc['cells'].append(cell)
    doc['config_sets'] = [config_set_location(files) for files in
                          (json.loads(sets[-1].split('=', 1)[1]) if sets else [])]
    sys.stdout.write(json.dumps(doc) + '\n')
    return 0


try:
    CODE = main(sys.argv[1:])
except Exception as exc:  # never print a URL: only the type and a scrubbed message
    sys.stdout.write(json.dumps(dict(error='%s: %s' % (type(exc).__name__, URL_RE.sub(r'\1***@', str(exc))))) + '\n')
    CODE = 1
sys.exit(CODE)
