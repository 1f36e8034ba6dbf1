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
    """True when the service user can get a token with the given password (one POST)."""
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    plugin = v3.Password(
        auth_url=auth["auth_url"], username=username, password=password,
        user_domain_name=auth.get("user_domain_name", "Default"), project_name=project,
        project_domain_name=auth.get("project_domain_name", "Default"))
    try:
        return bool(ks_session.Session(auth=plugin, timeout=30).get_token())
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

    # Everything is read with one list call per resource type (keystone is slow per request
    # when the lab's CPUs are busy), then only what is missing is created.
    project = next(iter(conn.identity.projects(name=p["service_project"], domain_id=domain_id)), None)
    if project is None:
        changes.append("project %s" % p["service_project"])
        if not check:
            project = conn.identity.create_project(
                name=p["service_project"], domain_id=domain_id, description="Service users")

    all_roles = {r.name: r for r in conn.identity.roles()}
    roles = {}
    for role_name in p["roles"]:
        role = all_roles.get(role_name)
        if role is None:
            changes.append("role %s" % role_name)
            if not check:
                role = conn.identity.create_role(name=role_name)
        roles[role_name] = role

    services = {(s.type, s.name): s for s in conn.identity.services()}
    endpoints = {}
    for ep in conn.identity.endpoints():
        if ep.region_id == p["region"]:
            endpoints[(ep.service_id, ep.interface)] = ep
    users = {u.name: u for u in conn.identity.users(domain_id=domain_id)}
    assignments = set()
    if project is not None and project.id:
        for a in conn.identity.role_assignments(scope_project_id=project.id):
            assignments.add(((a.user or {}).get("id"), (a.role or {}).get("id")))

    for svc in p["services"]:
        service = services.get((svc["type"], svc["name"]))
        if service is None:
            changes.append("service %s" % svc["name"])
            if not check:
                service = conn.identity.create_service(
                    name=svc["name"], type=svc["type"],
                    description=svc.get("description", svc["name"]), is_enabled=True)
        for interface in INTERFACES:
            ep = endpoints.get((getattr(service, "id", None), interface))
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

        if not svc.get("user"):
            continue
        user = users.get(svc["user"])
        created = user is None
        if created:
            changes.append("user %s" % svc["user"])
            if not check:
                user = conn.identity.create_user(
                    name=svc["user"], password=svc["password"], domain_id=domain_id,
                    default_project_id=project.id, is_enabled=True)
        for role_name, role in roles.items():
            if user is None or role is None or (user.id, role.id) not in assignments:
                changes.append("role %s for %s" % (role_name, svc["user"]))
                if not check:
                    conn.identity.assign_project_role_to_user(project, user, role)
        if not created and not check and not _user_password_works(
                auth, svc["user"], svc["password"], p["service_project"]):
            changes.append("password of %s" % svc["user"])
            conn.identity.update_user(user, password=svc["password"])

    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()
