# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the names of Nova's databases as JSON, never their URLs or passwords.

Run with the Python of the running Nova code on a controller (the role feeds this file on stdin):
  <nova python> - --config-file /etc/nova/nova.conf
Output (one line): {"api": {"database": "nova_api", "host": "10.0.0.5", "port": null, "driver": "mysql+pymysql"},
                     "main": {...the cell of [database] connection, the one `nova-manage db sync` migrates},
                     "cells": [{"name": "cell0", "uuid": "...", "database": "nova_cell0", "host": ..., "port": ...}]}
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


def main(argv):
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
    sys.stdout.write(json.dumps(doc) + '\n')
    return 0


try:
    CODE = main(sys.argv[1:])
except Exception as exc:  # never print a URL: only the type and a scrubbed message
    sys.stdout.write(json.dumps(dict(error='%s: %s' % (type(exc).__name__, URL_RE.sub(r'\1***@', str(exc))))) + '\n')
    CODE = 1
sys.exit(CODE)
