"""The operations the facade serves, by their X-Amz-Target name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from turnout.api.sagemaker import endpoint_configs, endpoints, inference_experiments, models, tags
from turnout.api.sagemaker.context import Answer, Context, Params

Handler = Callable[[Context, Params], Answer]

HANDLERS: Mapping[str, Handler] = {
    "CreateModel": models.create_model,
    "DescribeModel": models.describe_model,
    "ListModels": models.list_models,
    "DeleteModel": models.delete_model,
    "CreateEndpointConfig": endpoint_configs.create_endpoint_config,
    "DescribeEndpointConfig": endpoint_configs.describe_endpoint_config,
    "ListEndpointConfigs": endpoint_configs.list_endpoint_configs,
    "DeleteEndpointConfig": endpoint_configs.delete_endpoint_config,
    "CreateEndpoint": endpoints.create_endpoint,
    "DescribeEndpoint": endpoints.describe_endpoint,
    "ListEndpoints": endpoints.list_endpoints,
    "UpdateEndpoint": endpoints.update_endpoint,
    "UpdateEndpointWeightsAndCapacities": endpoints.update_endpoint_weights_and_capacities,
    "DeleteEndpoint": endpoints.delete_endpoint,
    "CreateInferenceExperiment": inference_experiments.create_inference_experiment,
    "DescribeInferenceExperiment": inference_experiments.describe_inference_experiment,
    "ListInferenceExperiments": inference_experiments.list_inference_experiments,
    "StopInferenceExperiment": inference_experiments.stop_inference_experiment,
    "AddTags": tags.add_tags,
    "ListTags": tags.list_tags,
    "DeleteTags": tags.delete_tags,
}
