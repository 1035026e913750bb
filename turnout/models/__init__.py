"""The model side of an instance: artifacts, flavors and codecs.

- `artifact`: find, check and unpack a model's artifact; detect its flavor.
- `layout`: where things live in a model directory (SageMaker's model.tar.gz layout).
- `requirements`: report what code/requirements.txt asks for that is not installed.
- `predictor`: the narrow interface an instance serves (`load_predictor`, `Predictor.invoke`).
- `sklearn`, `inference`: the built-in flavors; `codecs`: JSON/CSV/.npy bodies and Accept.
"""
