# SDK v2: the classic A/B notebook. Two XGBoost models behind one endpoint as production
# variants; invoke each with TargetVariant; move all traffic to Variant2; each variant's
# invocations from CloudWatch; delete. Run in a directory with test.csv (rows, no labels).
import datetime
import json
import time

import boto3
import sagemaker
from sagemaker.image_uris import retrieve
from sagemaker.session import production_variant

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

sess = sagemaker.Session()
region = sess.boto_region_name
bucket = sess.default_bucket()
sm = boto3.Session().client("sagemaker")
sm_runtime = boto3.Session().client("sagemaker-runtime")

image_uri = retrieve("xgboost", region, "1.7-1")
model_name1 = "DEMO-xgb-churn-pred"
model_name2 = "DEMO-xgb-churn-pred2"
for name, key in ((model_name1, "model1"), (model_name2, "model2")):
    sess.create_model(
        name=name,
        role=ROLE,
        container_defs={
            "Image": image_uri,
            "ModelDataUrl": f"s3://{bucket}/ab/{key}/model.tar.gz",
        },
    )

variant1 = production_variant(
    model_name=model_name1,
    instance_type="ml.m5.xlarge",
    initial_instance_count=1,
    variant_name="Variant1",
    initial_weight=1,
)
variant2 = production_variant(
    model_name=model_name2,
    instance_type="ml.m5.xlarge",
    initial_instance_count=1,
    variant_name="Variant2",
    initial_weight=1,
)
endpoint_name = "DEMO-xgb-churn-pred-ab"
sess.endpoint_from_production_variants(name=endpoint_name, production_variants=[variant1, variant2])

with open("test.csv") as f:
    rows = f.read().splitlines()
result = {"targeted": {}, "after_shift": {}}
for variant in ("Variant1", "Variant2"):
    response = sm_runtime.invoke_endpoint(
        EndpointName=endpoint_name,
        ContentType="text/csv",
        Body=rows[0],
        TargetVariant=variant,
    )
    result["targeted"][variant] = response["InvokedProductionVariant"]

sm.update_endpoint_weights_and_capacities(
    EndpointName=endpoint_name,
    DesiredWeightsAndCapacities=[
        {"DesiredWeight": 0, "VariantName": variant1["VariantName"]},
        {"DesiredWeight": 1, "VariantName": variant2["VariantName"]},
    ],
)
while sm.describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"] not in (
    "InService",
    "Failed",
):
    time.sleep(1)
result["weights"] = {
    v["VariantName"]: v["CurrentWeight"]
    for v in sm.describe_endpoint(EndpointName=endpoint_name)["ProductionVariants"]
}
for row in rows:
    response = sm_runtime.invoke_endpoint(
        EndpointName=endpoint_name, ContentType="text/csv", Body=row
    )
    variant = response["InvokedProductionVariant"]
    result["after_shift"][variant] = result["after_shift"].get(variant, 0) + 1

cw = boto3.Session().client("cloudwatch")
now = datetime.datetime.now(datetime.UTC)
result["invocations"] = {}
for variant in ("Variant1", "Variant2"):
    metrics = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint_name},
            {"Name": "VariantName", "Value": variant},
        ],
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    result["invocations"][variant] = sum(p["Sum"] for p in metrics["Datapoints"])
print(json.dumps(result))

sm.delete_endpoint(EndpointName=endpoint_name)
sm.delete_endpoint_config(EndpointConfigName=endpoint_name)
sm.delete_model(ModelName=model_name1)
sm.delete_model(ModelName=model_name2)
