# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the name, host and port of the database an INI configuration names, never its URL or password.

  python3 - SECTION OPTION FILE [FILE...]   (the last file that sets the option wins, as oslo.config reads them)
Output (one line): {"database": "placement", "host": "10.77.0.10", "port": null} or {"error": "..."}; exit 0 / 1.
Needs only the Python standard library (it runs with the host's python3).
"""
import configparser
import json
import sys
from urllib.parse import urlsplit


def main(section, option, files):
    value = None
    for path in files:
        parser = configparser.RawConfigParser(strict=False)
        with open(path, encoding='utf-8') as handle:
            parser.read_file(handle)
        if parser.has_option(section, option):
            value = parser.get(section, option)
    if not value:
        return dict(error='none of %s sets [%s] %s' % (', '.join(files), section, option))
    parts = urlsplit(value.replace('$$', '$'))
    return dict(database=parts.path.lstrip('/').split('?')[0], host=parts.hostname, port=parts.port)


try:
    DOC = main(sys.argv[1], sys.argv[2], sys.argv[3:])
except Exception as exc:  # never print the value: only the type of the error
    DOC = dict(error='%s reading [%s] %s' % (type(exc).__name__, sys.argv[1:2], sys.argv[2:3]))
sys.stdout.write(json.dumps(DOC) + '\n')
sys.exit(1 if 'error' in DOC else 0)
