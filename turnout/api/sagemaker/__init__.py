"""The SageMaker control plane (AWS JSON 1.1), wire-compatible with boto3's "sagemaker" client."""

from turnout.api.sagemaker.facade import SageMakerApi, is_sagemaker_request

__all__ = ["SageMakerApi", "is_sagemaker_request"]
