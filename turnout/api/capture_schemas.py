"""The native REST API's data capture documents (SageMaker's DataCaptureConfig, snake_case)."""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel, ConfigDict, Field

from turnout.capture.hub import CaptureStatus
from turnout.domain.resources import DataCapture


class DataCaptureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    destination: str = Field(
        description="s3://bucket/prefix, file:///dir or an absolute directory; files go to "
        "<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/.",
        examples=["file:///var/lib/turnout/capture"],
    )
    sampling_percentage: int = Field(description="0-100: the share of invocations captured.")
    capture_input: bool = True
    capture_output: bool = True
    enabled: bool = True
    csv_content_types: list[str] = Field(default_factory=list, description="Written as text.")
    json_content_types: list[str] = Field(default_factory=list, description="Written as text.")
    kms_key_id: str | None = None

    def resource(self) -> DataCapture:
        fields = self.model_dump()
        for types in ("csv_content_types", "json_content_types"):
            fields[types] = tuple(fields[types])
        return DataCapture(**fields)


class DataCaptureOut(DataCaptureIn):
    @classmethod
    def of(cls, capture: DataCapture | None) -> DataCaptureOut | None:
        return None if capture is None else cls.model_validate(dataclasses.asdict(capture))


class DataCaptureStatusOut(BaseModel):
    """Whether the endpoint captures now; why not, after a write error."""

    status: str = Field(description="Started or Stopped (SageMaker's CaptureStatus).")
    reason: str | None = Field(None, description="Why capture stopped (e.g. the disk is full).")
    sampling_percentage: int
    destination: str
    captured: int = Field(description="Records written by this process.")
    dropped: int = Field(description="Sampled but not written (queue full, or stopped).")
    write_errors: int

    @classmethod
    def of(cls, found: tuple[DataCapture, CaptureStatus] | None) -> DataCaptureStatusOut | None:
        if found is None:
            return None
        capture, status = found
        return cls(
            status="Started" if status.started else "Stopped",
            reason=status.reason,
            sampling_percentage=capture.sampling_percentage,
            destination=capture.destination,
            captured=status.captured,
            dropped=status.dropped,
            write_errors=status.write_errors,
        )
