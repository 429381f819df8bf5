"""Allow/deny lists that rules use as ``@name``."""

from __future__ import annotations

from fraudstream.api.operations.common import Body, Handler, by_name, offset_page, paginate
from fraudstream.api.service import Service


def create_list(svc: Service, body: Body) -> Body:
    svc.registry.create_list(
        body["name"],
        body.get("elements", []),
        body.get("variableType"),
        body.get("description", ""),
    )
    return {}


def update_list(svc: Service, body: Body) -> Body:
    svc.update_list(
        body["name"],
        body.get("elements"),
        body.get("updateMode", "REPLACE"),
        body.get("description"),
        body.get("variableType"),
    )
    return {}


def get_list_elements(svc: Service, body: Body) -> Body:
    elements = svc.registry.get_list(body["name"])["elements"]
    return offset_page(elements, body, "elements", page_size=5000)


def get_lists_metadata(svc: Service, body: Body) -> Body:
    name = body.get("name")
    docs = [svc.registry.get_list(name)] if name else svc.registry.get_lists()
    meta = [{k: v for k, v in d.items() if k != "elements"} for d in docs]
    return paginate(meta, body, "lists", key=by_name, page_size=50)


def delete_list(svc: Service, body: Body) -> Body:
    svc.registry.delete_list(body["name"])
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateList": create_list,
    "UpdateList": update_list,
    "GetListElements": get_list_elements,
    "GetListsMetadata": get_lists_metadata,
    "DeleteList": delete_list,
}
