#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab-only module: keystone catalog, service project, service users and their roles."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lab_keystone_catalog
short_description: Register OpenStack services, endpoints and service users in keystone (lab)
description:
  - Ensures the service project, the roles, one service user per entry of O(services) with
    the given roles on the service project, one catalog service per entry and its public,
    internal and admin endpoints in O(region), all pointing at the same URL.
  - One keystone session for everything (much faster than one module call per resource).
  - Runs on the Ansible controller with openstacksdk.
options:
  auth:
    description: Admin credentials (auth_url, username, password, project_name, user_domain_name, project_domain_name).
    type: dict
    required: true
  region:
    description: Region of the endpoints.
    type: str
    default: RegionOne
  service_project:
    description: Project of the service users.
    type: str
    default: service
  roles:
    description: Roles given to every service user on the service project (created when missing).
    type: list
    elements: str
    default: [admin, service]
  services:
    description: Services; each has name, type, description, url, and optionally user and password.
    type: list
    elements: dict
    required: true
author: rolling.openstack lab
"""

RETURN = r"""
changes:
  description: What was created or updated.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

try:
    import openstack
    HAS_SDK = True
except ImportError:  # pragma: no cover
    HAS_SDK = False

INTERFACES = ("public", "internal", "admin")


def _user_password_works(auth, username, password, project):
    """True when the service user can authenticate with the given password."""
    creds = dict(auth)
    creds.update(username=username, password=password, project_name=project)
    try:
        conn = openstack.connect(auth=creds, auth_type="password", region_name=None)
        conn.authorize()
        return True
    except Exception:  # noqa: BLE001 - any auth failure means "update it"
        return False


def main():
    module = AnsibleModule(
        argument_spec=dict(
            auth=dict(type="dict", required=True, no_log=True),
            region=dict(type="str", default="RegionOne"),
            service_project=dict(type="str", default="service"),
            roles=dict(type="list", elements="str", default=["admin", "service"]),
            services=dict(type="list", elements="dict", required=True, no_log=False),
        ),
        supports_check_mode=True,
    )
    if not HAS_SDK:
        module.fail_json(msg="openstacksdk is required on the controller")

    p = module.params
    auth = p["auth"]
    check = module.check_mode
    changes = []
    for svc in p["services"]:
        if svc.get("password"):
            module.no_log_values.add(svc["password"])

    conn = openstack.connect(auth=auth, auth_type="password", region_name=p["region"])
    domain_id = "default"

    project = conn.identity.find_project(p["service_project"], domain_id=domain_id)
    if project is None:
        changes.append("project %s" % p["service_project"])
        if not check:
            project = conn.identity.create_project(
                name=p["service_project"], domain_id=domain_id, description="Service users")

    roles = {}
    for role_name in p["roles"]:
        role = conn.identity.find_role(role_name)
        if role is None:
            changes.append("role %s" % role_name)
            if not check:
                role = conn.identity.create_role(name=role_name)
        roles[role_name] = role

    for svc in p["services"]:
        # catalog service
        service = None
        for candidate in conn.identity.services(type=svc["type"]):
            if candidate.name == svc["name"]:
                service = candidate
        if service is None:
            changes.append("service %s" % svc["name"])
            if not check:
                service = conn.identity.create_service(
                    name=svc["name"], type=svc["type"],
                    description=svc.get("description", svc["name"]), is_enabled=True)
        existing = {}
        if service is not None and service.id:
            for ep in conn.identity.endpoints(service_id=service.id):
                if ep.region_id == p["region"]:
                    existing[ep.interface] = ep
        for interface in INTERFACES:
            ep = existing.get(interface)
            if ep is None:
                changes.append("endpoint %s %s" % (svc["name"], interface))
                if not check:
                    conn.identity.create_endpoint(
                        service_id=service.id, interface=interface, url=svc["url"],
                        region_id=p["region"], is_enabled=True)
            elif ep.url != svc["url"]:
                changes.append("endpoint %s %s url" % (svc["name"], interface))
                if not check:
                    conn.identity.update_endpoint(ep, url=svc["url"])

        # service user
        if not svc.get("user"):
            continue
        user = conn.identity.find_user(svc["user"], domain_id=domain_id)
        if user is None:
            changes.append("user %s" % svc["user"])
            if not check:
                user = conn.identity.create_user(
                    name=svc["user"], password=svc["password"], domain_id=domain_id,
                    default_project_id=project.id, is_enabled=True)
        for role_name, role in roles.items():
            has = False
            if user is not None and role is not None and project is not None:
                has = bool(list(conn.identity.role_assignments(
                    user_id=user.id, role_id=role.id, scope_project_id=project.id)))
            if not has:
                changes.append("role %s for %s" % (role_name, svc["user"]))
                if not check:
                    conn.identity.assign_project_role_to_user(project, user, role)
        if user is not None and not check and not any(c == "user %s" % svc["user"] for c in changes):
            if not _user_password_works(auth, svc["user"], svc["password"], p["service_project"]):
                changes.append("password of %s" % svc["user"])
                conn.identity.update_user(user, password=svc["password"])

    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()
