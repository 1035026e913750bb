# SDK v3: ModelBuilder with SageMaker's scikit-learn image, a model.tar.gz on S3 and the
# inference code in code/ (repacked into the model by build()); deploy, invoke, delete.
# Run in a directory with code/inference.py and rows in rows.json.
import json

from sagemaker.core.helper.session_helper import Session
from sagemaker.core.image_uris import retrieve
from sagemaker.core.resources import EndpointConfig
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.configs import SourceCode

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

session = Session()
model_builder = ModelBuilder(
    s3_model_data_url=f"s3://{session.default_bucket()}/digits/model.tar.gz",
    image_uri=retrieve("sklearn", session.boto_region_name, version="1.2-1"),
    source_code=SourceCode(source_dir="code", entry_script="inference.py"),
    role_arn=ROLE,
    sagemaker_session=session,
)
core_model = model_builder.build(model_name="digits-v3")
endpoint = model_builder.deploy(
    endpoint_name="digits-v3", instance_type="ml.m5.large", initial_instance_count=1
)

with open("rows.json") as f:
    rows = json.load(f)
result = endpoint.invoke(
    body=json.dumps(rows), content_type="application/json", accept="application/json"
)
predictions = json.loads(result.body.read())
print(json.dumps({"endpoint": endpoint.endpoint_name, "predictions": predictions}))

endpoint_config = EndpointConfig.get(endpoint_config_name=endpoint.endpoint_config_name)
core_model.delete()
endpoint.delete()
endpoint_config.delete()
