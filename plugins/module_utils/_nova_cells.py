# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run one of Nova's tools against ONE cell's database, named by its cell mapping.

Private module_utils (``_`` prefix): not a public API of the collection.

nova-manage's ``db sync --local_cell`` and ``db online_data_migrations`` work on the database of ``[database]
connection``. For a cell that the configuration does not name (cell0, or a cell whose conductor runs elsewhere),
cell_config() reads the cell mapping's database URL with Nova's own code (a snippet run with Nova's python: the
URL is formatted as Nova formats it), writes it into a configuration file of its own (mode 0600, in a private
temporary directory, removed when done) and returns that file, to be given after the module's configuration
files. The URL never leaves the host: it is not returned, and run_tool() scrubs it from every output since
config_secrets() reads the file like any other configuration file of the module.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from ansible_collections.rolling.openstack.plugins.module_utils._nova_snippet import run_snippet, snippet

_MARKER = 'ROLLING_NOVA_CELL='

_BODY = r'''
CELL = %r


def main(argv):
    bootstrap('rolling-nova-cell', argv)
    from nova import context
    from nova import objects

    ctxt = context.get_admin_context()
    for mapping in objects.CellMappingList.get_all(ctxt):
        if CELL in (mapping.uuid, mapping.name):
            remember(mapping.database_connection)
            return finish(dict(uuid=mapping.uuid, name=mapping.name, connection=mapping.database_connection))
    return finish(dict(error='no cell mapping has the uuid or name %%s' %% CELL))


run(main)
'''


@contextlib.contextmanager
def cell_config(module, python, cell):
    """Yield the path of a config file whose [database] connection is the database of cell (uuid or name)."""
    body = _BODY % (cell,)
    doc, _secrets = run_snippet(module, python, snippet(_MARKER, body), _MARKER, 'the cell mapping of %s' % cell)
    if doc.get('error') or not doc.get('connection'):
        module.fail_json(msg='cell %s: %s' % (cell, doc.get('error') or 'its mapping has no database connection'))
    directory = tempfile.mkdtemp(prefix='rolling-nova-cell-')
    path = os.path.join(directory, 'cell-database.conf')
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write('# written by rolling.openstack for cell %s (%s); removed after use\n[database]\nconnection = %s\n'
                         % (doc.get('name'), doc.get('uuid'), doc['connection'].replace('$', '$$')))
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
