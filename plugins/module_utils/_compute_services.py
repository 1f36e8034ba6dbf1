# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Nova services as the os-services API shows them, shared by compute_service_info and compute_service.

Private module_utils (``_`` prefix): not a public API of the collection.
"""

from __future__ import annotations

import warnings

try:
    # openstack.cloud < 2.6 reads openstack.version.__version__, which openstacksdk >= 4.15 no longer imports with
    # the package (and deprecates): the modules that import this file work with both.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        import openstack.version  # noqa: F401, pylint: disable=unused-import
except ImportError:
    pass  # OpenStackModule reports the missing openstacksdk itself.


def service_to_dict(service):
    """Map an openstacksdk compute Service to the Nova API field names the modules return."""
    return dict(
        id=service.id,
        binary=service.binary,
        host=service.host,
        zone=service.availability_zone,
        status=service.status,
        state=service.state,
        forced_down=bool(service.is_forced_down),
        disabled_reason=service.disabled_reason,
        updated_at=service.updated_at,
    )
