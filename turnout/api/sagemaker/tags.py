"""AddTags, ListTags, DeleteTags on models, endpoint configs and endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from turnout.api.sagemaker import pagination
from turnout.api.sagemaker.arns import RESOURCE_OF_KIND
from turnout.api.sagemaker.context import Answer, Context, Params

MAX_TAGS = 50  # per resource (TagList max)
_KIND_OF_RESOURCE = {resource: kind for kind, resource in RESOURCE_OF_KIND.items()}


def pairs(tags: Sequence[Params] | None) -> list[tuple[str, str]]:
    return [(tag["Key"], tag["Value"]) for tag in tags or ()]


def tag_new(ctx: Context, kind: str, name: str, tags: Sequence[Params] | None) -> None:
    """The Tags of a Create* request, on the resource it just created."""
    if tags:
        ctx.control.add_tags(kind, name, pairs(tags), limit=MAX_TAGS)


def add_tags(ctx: Context, params: Params) -> Answer:
    arn = ctx.resource(params["ResourceArn"])
    ctx.control.add_tags(_KIND_OF_RESOURCE[arn.resource], arn.name, pairs(params["Tags"]),
                         limit=MAX_TAGS)  # fmt: skip
    return {"Tags": params["Tags"]}


def list_tags(ctx: Context, params: Params) -> Answer:
    arn = ctx.resource(params["ResourceArn"])
    found = ctx.control.list_tags(_KIND_OF_RESOURCE[arn.resource], arn.name)
    items = [
        pagination.Item(key, float(position), {"Key": key, "Value": value})
        for position, (key, value) in enumerate(found)
    ]
    query = pagination.Query(
        sort_by="CreationTime",  # the order the tags were added in
        descending=False,
        max_results=params.get("MaxResults", MAX_TAGS),
        next_token=params.get("NextToken"),
    )
    tags, token = pagination.page(items, query)
    answer: Answer = {"Tags": tags}
    if token is not None:
        answer["NextToken"] = token
    return answer


def delete_tags(ctx: Context, params: Params) -> Answer:
    arn = ctx.resource(params["ResourceArn"])
    ctx.control.delete_tags(_KIND_OF_RESOURCE[arn.resource], arn.name, params["TagKeys"])
    return {}
