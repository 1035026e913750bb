# SDK v2: a scikit-learn model with its own inference.py; deploy, predict, delete.
# Run in a directory with model.tar.gz's code in code/inference.py and rows in rows.json.
import json

import sagemaker
from sagemaker.sklearn import SKLearnModel

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

session = sagemaker.Session()
model = SKLearnModel(
    model_data=f"s3://{session.default_bucket()}/digits/model.tar.gz",
    role=ROLE,
    entry_point="inference.py",
    source_dir="code",
    framework_version="1.2-1",
)
predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large")

with open("rows.json") as f:
    rows = json.load(f)
probabilities = predictor.predict(rows)
print(json.dumps({"endpoint": predictor.endpoint_name, "predictions": probabilities.tolist()}))

predictor.delete_model()
predictor.delete_endpoint()
