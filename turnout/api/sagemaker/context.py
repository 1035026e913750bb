"""What every operation handler gets: the service layer, the account and region, helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from turnout.api.sagemaker import arns
from turnout.api.sagemaker.errors import AwsError, not_found, validation_error
from turnout.service import ControlPlane
from turnout.shadow.experiments import InferenceExperiments

Params = Mapping[str, Any]
Answer = dict[str, Any]


@dataclass(frozen=True)
class Context:
    control: ControlPlane
    account: str
    region: str
    inference_experiments: InferenceExperiments | None = None

    def arn(self, resource: str, name: str) -> str:
        return arns.build(self.region, self.account, resource, name)

    def not_found(self, kind: str, name: str) -> AwsError:
        return not_found(kind, name, self.account, self.region)

    def resource(self, arn: str) -> arns.Arn:
        """The model, endpoint config or endpoint an ARN names in this account and region."""
        parsed = arns.parse(arn)
        if parsed is None:
            raise validation_error(
                f"Invalid resource ARN {arn}: turnout tags models, endpoint configs and "
                "endpoints (arn:aws:sagemaker:<region>:<account>:endpoint/<name>)."
            )
        if (parsed.account, parsed.region) != (self.account, self.region):
            kind = next(k for k, r in arns.RESOURCE_OF_KIND.items() if r == parsed.resource)
            raise self.not_found(kind, parsed.name)
        return parsed


def refuse_unsupported(params: Params, members: Iterable[str], where: str) -> None:
    """A clear ValidationException for fields whose behaviour turnout does not provide.

    Fields that change nothing observable here (VpcConfig, KmsKeyId, ...) are accepted
    and ignored instead; docs/sagemaker.md lists both kinds.
    """
    given = [m for m in members if params.get(m) not in (None, [], {})]
    if given:
        raise validation_error(
            f"turnout does not support {where}{', '.join(given)} yet; remove "
            f"{'it' if len(given) == 1 else 'them'} from the request (see docs/sagemaker.md)."
        )


def without_none(answer: Answer) -> Answer:
    """Drop absent members: AWS omits them rather than sending null."""
    return {k: v for k, v in answer.items() if v is not None}
