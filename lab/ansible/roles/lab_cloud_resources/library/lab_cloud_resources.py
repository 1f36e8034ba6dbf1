#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab-only module: the lab's flavor and image."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lab_cloud_resources
short_description: Ensure the lab flavor and the lab image exist (lab)
description:
  - Creates the flavor O(flavor) when missing (an existing one with other sizes is an error,
    flavors are immutable).
  - Creates the image O(image) when missing, uploading O(image_size) bytes generated here
    (a text header padded with zeros, a valid raw disk; the lab virt driver never boots it).
    An image left in another state than active (an interrupted upload) is replaced.
  - One openstacksdk session for everything; runs on the Ansible controller.
options:
  cloud:
    description: Admin credentials (auth_url, username, password, project_name, user_domain_name, project_domain_name).
    type: dict
    required: true
  region:
    description: Region.
    type: str
    default: RegionOne
  flavor:
    description: Flavor (name, vcpus, ram in MB, disk in GB).
    type: dict
    required: true
  image:
    description: Image name.
    type: str
    required: true
  image_size:
    description: Size of the generated image data in bytes.
    type: int
    default: 1048576
  timeout:
    description: Seconds to wait for the image to become active.
    type: int
    default: 120
author: rolling.openstack lab
"""

RETURN = r"""
changes:
  description: What was created.
  returned: always
  type: list
  elements: str
image_id:
  description: ID of the image.
  returned: success
  type: str
flavor_id:
  description: ID of the flavor.
  returned: success
  type: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

try:
    import openstack
    HAS_SDK = True
except ImportError:  # pragma: no cover
    HAS_SDK = False

HEADER = b"cirros-lab: placeholder disk for the rolling.openstack lab (lab virt driver)\n"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cloud=dict(type="dict", required=True, no_log=True),
            region=dict(type="str", default="RegionOne"),
            flavor=dict(type="dict", required=True),
            image=dict(type="str", required=True),
            image_size=dict(type="int", default=1048576),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    if not HAS_SDK:
        module.fail_json(msg="openstacksdk is required on the controller")
    p = module.params
    check = module.check_mode
    changes = []
    conn = openstack.connect(auth=p["cloud"], auth_type="password", region_name=p["region"])

    # flavor
    want = p["flavor"]
    flavor = conn.compute.find_flavor(want["name"], ignore_missing=True)
    if flavor is None:
        changes.append("flavor %s" % want["name"])
        if not check:
            flavor = conn.compute.create_flavor(
                name=want["name"], vcpus=int(want["vcpus"]), ram=int(want["ram"]),
                disk=int(want["disk"]), is_public=True)
    elif (flavor.vcpus, flavor.ram, flavor.disk) != (int(want["vcpus"]), int(want["ram"]), int(want["disk"])):
        module.fail_json(msg="flavor %s exists with other sizes (%s vCPU, %s MB, %s GB)"
                         % (want["name"], flavor.vcpus, flavor.ram, flavor.disk))

    # image
    images = list(conn.image.images(name=p["image"]))
    active = [i for i in images if i.status == "active"]
    image = active[0] if active else None
    if image is None:
        changes.append("image %s" % p["image"])
        if not check:
            for broken in images:
                conn.image.delete_image(broken, ignore_missing=True)
            fd, path = tempfile.mkstemp(prefix="cirros-lab-", suffix=".img")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(HEADER)
                    f.write(b"\0" * max(0, p["image_size"] - len(HEADER)))
                image = conn.image.create_image(
                    name=p["image"], filename=path, disk_format="raw",
                    container_format="bare", visibility="public", wait=True,
                    timeout=p["timeout"], allow_duplicates=False)
            finally:
                os.unlink(path)
            image = conn.image.wait_for_status(image, status="active", wait=p["timeout"])

    module.exit_json(changed=bool(changes), changes=changes,
                     image_id=getattr(image, "id", None), flavor_id=getattr(flavor, "id", None))


if __name__ == "__main__":
    main()
