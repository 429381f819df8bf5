"""AWS's own Fraud Detector sample notebooks, run against fraudstream (issue #5's "done means").

Repository: aws-samples/aws-fraud-detector-samples (https://github.com/aws-samples/
aws-fraud-detector-samples). Each test follows one notebook's code cells in order with the
real boto3 client against the real running API server (as tests/test_api_afd.py does):

* test_end_to_end_stored_data ........ ``Fraud_Detector_End_to_End_Stored_Data.ipynb``
  (commit 49ecd08649bb0badecfd9b769f1110e0410189b9): TRANSACTION_FRAUD_INSIGHTS trained on
  events stored by a batch import job.
* test_end_to_end_external_data_ofi .. ``Fraud_Detector_End_to_End_External_Data_OFI.ipynb``
  (commit 0e86042ac354524e8a379dbf1d5c7a872526edd0): ONLINE_FRAUD_INSIGHTS trained on a file.
* test_send_event .................... ``Fraud_Detector_Send_Event.ipynb``
  (commit 49ecd08649bb0badecfd9b769f1110e0410189b9): SendEvent for every row of a file.
* test_get_event_prediction_api ...... ``Fraud_Detector_GetEventPrediction_API_Example.ipynb``
  (commit 1470f9f85babade859feb28ab5a8b4896a2d978c): GetEventPrediction for every row. The
  repository also has a shorter dask-based version of this notebook (commit 28a85014cfdf...)
  whose code cannot run as written anywhere (``detectorVersionId=DETECTOR_VERSION`` where the
  cell defines ``DETECTOR_VER``, so every call lands in its ``except`` branch, and ``head(...)``
  is undefined); it makes the same GetEventPrediction call, so it is not scripted separately.

The two End-to-End notebooks share most of their cells (word for word, or but for names and
values): each such piece is one module-level function, named after the notebook section it
comes from, that both tests call where their notebook runs it. Where the two versions differ a
little (a printed word, the order of a list, Stored_Data's ``eventIngestion="ENABLED"``, the
training data source) a parameter (mostly ``stored=``) carries the difference, as it does for
the profiling helpers; the cells only one notebook has stay inline in its test.

What is changed, and nothing else:

* the client: ``boto3.client('frauddetector')`` gets ``endpoint_url`` and our SigV4 keys
  (``server.client()``);
* data locations: ``s3://bucket/file`` becomes a ``file://`` URI in the server's data folder, and
  the notebooks' ``s3.Object(S3_BUCKET, S3_FILE).get()['Body']`` a local path for pandas; the
  data is ``synthetic_txn_data`` with the notebooks' columns, made by our simulator
  (tests/aws_samples_data.py), a few thousand rows instead of ~117,000;
* the "fill this in" configuration cells get values (names from the notebooks' own printed
  outputs, e.g. ``online_transaction_event``, ``txn_model_ga1``);
* time: polling loops keep their shape but ``time.sleep(60)`` becomes ``time.sleep(POLL)``;
* ``multiprocessing.Pool`` becomes ``multiprocessing.pool.ThreadPool`` (same ``Pool(processes=
  n)`` / ``p.map`` calls): a forked child of the test process would copy the server's threads;
* pandas: the notebooks ran on pandas 1.x (Python 3.6), where text columns read as ``object``
  dtype, which their profiling code tests for; under pandas 3 we ask for that behaviour.

Skipped cells (none is a Fraud Detector call), per notebook:

* all four: the IPython display cells (``display(HTML(...))``, ``%matplotlib inline``, the
  commented-out ``%pip install`` of boto3), ``clear_output`` (a no-op here), and S3 access
  (``boto3.resource('s3')``: replaced by reading the local file, see above); IAM role
  creation is a console step before the notebooks (``ARN_ROLE`` is any role ARN here).
* End_to_End_Stored_Data: the plots (ROC chart, variable importance bar chart, score
  histogram by label, test ROC curve): their data is still read from the API into pandas
  and checked; "(Optional) Write Predictions to File" (``to_csv``/``to_excel``, markdown).
* End_to_End_External_Data_OFI: the same plots and the optional write-to-file markdown.
* Send_Event: nothing else; the markdown's optional "Delete All Events by Event Type" calls are
  run too. The event type "defined on the console" beforehand is defined through the API.
* GetEventPrediction_API_Example: the score-distribution plot and the confusion-matrix
  heatmaps (matplotlib/seaborn; their pandas crosstabs are kept), the optional write-to-file
  markdown. The detector it needs ("created a detector on Amazon Fraud Detector" beforehand)
  is built through the API.
"""

# ruff: noqa: N803, N806, E721, E722, F841, RET506, RUF005, RUF015, RUF059, SIM108, SIM118, UP030, UP031, UP032, E712

from __future__ import annotations

import logging
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import ThreadPool as Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import auc, roc_curve

from aws_samples_data import SAMPLE_VARIABLES, external_layout, synthetic_txn_data
from test_api_support import ROLE, running_server

#: Seconds between polls where the notebooks sleep 60.
POLL = 0.2


def clear_output(wait: bool = False) -> None:
    """IPython's clear_output: nothing to clear outside a notebook."""


@contextmanager
def pandas_as_in_2021() -> Iterator[None]:
    """Text columns read as ``object`` dtype, as under the pandas the notebooks were run with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated (pandas 4 drops it)
        previous = pd.get_option("future.infer_string")
        pd.set_option("future.infer_string", False)
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.set_option("future.infer_string", previous)


# -- the notebooks' profiling helpers (pandas only), as written in End_to_End_Stored_Data -------


def guess_type_based_on_name(name):  # type: ignore[no-untyped-def]
    """
    Guess feature type based on its name. This is a help function used in summary_stats.
    """
    name = name.replace("_", "").lower()
    guess_type = []
    guess_map = {
        "IP_ADDRESS": ["ipaddr"],
        "EMAIL_ADDRESS": ["email"],
        "CARD_BIN": ["cardbin", "cardnum"],
        "PHONE_NUMBER": ["phone"],
        "USERAGENT": ["useragent", "ua"],
        "PRICE": ["price"],
        "PRODUCT_CATEGORY": ["productcategory", "prodcategory"],
        "CURRENCY_CODE": ["currency"],
        "BILLING_ADDRESS_L1": ["billingstreet", "billstreet"],
        "BILLING_CITY": ["billingcity", "billcity"],
        "BILLING_STATE": ["billingstate", "billstate"],
        "BILLING_ZIP": ["billingzip", "billzip", "billingpostal", "billpostal"],
        "EVENT_ID": ["eventid"],
        "ENTITY_ID": ["entityid", "customerid"],
        "ENTITY_TYPE": ["entitytype"],
    }

    for var in guess_map:
        if any(x in name for x in guess_map[var]):
            guess_type.append(var)

    return guess_type


def summary_stats(df, variables_map, mandatory=True):  # type: ignore[no-untyped-def]
    """
    Generate summary statistics for a pandas data frame
    (``mandatory=False``: the External_Data_OFI variant, which maps no mandatory columns)
    """
    rowcnt = len(df)

    # -- calculating data statistics and data types --
    df_s1 = (
        df.agg(["count", "nunique"])
        .transpose()
        .reset_index()
        .rename(columns={"index": "feature_name"})
    )
    df_s1["null"] = (rowcnt - df_s1["count"]).astype("int64")
    df_s1["not_null"] = rowcnt - df_s1["null"]
    df_s1["null_pct"] = df_s1["null"] / rowcnt
    df_s1["nunique_pct"] = df_s1["nunique"] / rowcnt

    dt = pd.DataFrame(df.dtypes).reset_index().rename(columns={"index": "feature_name", 0: "dtype"})
    df_stats = pd.merge(dt, df_s1, on="feature_name", how="inner").round(4)
    df_stats["nunique"] = df_stats["nunique"].astype("int64")
    df_stats["count"] = df_stats["count"].astype("int64")

    # -- variable type mapper: map mandatory variables and variables_map  --
    flatten_var_maps = []
    for vartype in variables_map.keys():
        if isinstance(variables_map[vartype], list):
            for var in variables_map[vartype]:
                flatten_var_maps.append([vartype, var])
        else:
            flatten_var_maps.append([vartype, variables_map[vartype]])

    if mandatory:
        for vartype in [
            "ENTITY_TYPE",
            "ENTITY_ID",
            "EVENT_ID",
            "EVENT_TIMESTAMP",
            "EVENT_LABEL",
            "LABEL_TIMESTAMP",
        ]:
            flatten_var_maps.append([vartype, vartype])
    df_schema = pd.DataFrame(flatten_var_maps, columns=["feature_type", "feature_name"])
    df_stats = pd.merge(df_stats, df_schema, how="left", on="feature_name")

    # -- variable type mapper: guess types based on feature names --
    guess_types = df_stats.loc[df_stats["feature_type"].isna(), "feature_name"].apply(
        guess_type_based_on_name
    )
    df_stats.loc[df_stats["feature_type"].isna(), "feature_type"] = guess_types[
        guess_types.apply(len) == 1
    ].apply(lambda x: x[0])

    # -- variable type mapper: map the rest types based on data type --
    df_stats.loc[
        (df_stats["feature_type"].isna()) & (df_stats["dtype"] == object), "feature_type"
    ] = "CATEGORICAL"
    df_stats.loc[
        (df_stats["feature_type"].isna())
        & ((df_stats["dtype"] == "int64") | (df_stats["dtype"] == "float64")),
        "feature_type",
    ] = "NUMERIC"

    # -- variable validation --
    df_stats["feature_warning"] = "NO WARNING"
    df_stats.loc[
        (df_stats["nunique"] != 2) & (df_stats["feature_name"] == "EVENT_LABEL"), "feature_warning"
    ] = "LABEL WARNING, NON-BINARY EVENT LABEL"
    df_stats.loc[
        (df_stats["nunique_pct"] > 0.9) & (df_stats["feature_type"] == "CATEGORICAL"),
        "feature_warning",
    ] = "EXCLUDE, GT 90% UNIQUE"
    df_stats.loc[
        (df_stats["null_pct"] > 0.2) & (df_stats["null_pct"] <= 0.75), "feature_warning"
    ] = "NULL WARNING, GT 20% MISSING"
    df_stats.loc[df_stats["null_pct"] > 0.75, "feature_warning"] = "EXCLUDE, GT 75% MISSING"
    df_stats.loc[
        ((df_stats["dtype"] == "int64") | (df_stats["dtype"] == "float64"))
        & (df_stats["nunique"] < 0.2),
        "feature_warning",
    ] = "LIKELY CATEGORICAL, NUMERIC w. LOW CARDINALITY"
    return df_stats


def prepare_schema(df, df_stats, variables_map, stored=True):  # type: ignore[no-untyped-def]
    """
    Prepare schema for following steps
    (``stored=False``: the External_Data_OFI variant, without unlabeledEventsTreatment)
    """
    # -- prepare event variables --
    exclude_list = [
        "ENTITY_TYPE",
        "ENTITY_ID",
        "EVENT_ID",
        "EVENT_TIMESTAMP",
        "EVENT_LABEL",
        "LABEL_TIMESTAMP",
        "UNKNOWN",
    ]
    event_variables = df_stats.loc[(~df_stats["feature_type"].isin(exclude_list))][
        "feature_name"
    ].to_list()

    # -- target --
    label_column = "EVENT_LABEL" if stored else variables_map["EVENT_LABEL"]
    label_value_count = df[label_column].dropna().astype("str", errors="ignore").value_counts()
    event_labels = label_value_count.index.unique().tolist()

    # -- define training_data_schema, Stored events need to specify unlabeledEventsTreatment --
    training_data_schema = {
        "modelVariables": df_stats.loc[~(df_stats["feature_type"].isin(exclude_list))][
            "feature_name"
        ].to_list(),
        "labelSchema": {
            # we assume the rare event as fraud, and the rest as not-fraud.
            "labelMapper": {
                "FRAUD": [str(label_value_count.idxmin())],
                "LEGIT": [i for i in event_labels if i not in [str(label_value_count.idxmin())]],
            },
            # there are there options for unlabeledEventsTreatment:
            #   'IGNORE' - ignore unlabeled events;
            #   'FRAUD'  - use unlabeled events as fraud
            #   'LEGIT'  - use unlabeled events as legit
            "unlabeledEventsTreatment": "IGNORE",
        },
    }
    if not stored:
        del training_data_schema["labelSchema"]["unlabeledEventsTreatment"]
    return training_data_schema, event_variables, event_labels


def profiling(df, variables_map, stored=True):  # type: ignore[no-untyped-def]
    """
    profiling the input pandas data frame and prepare schema for following steps
    """
    df = df.copy()

    if stored:
        # -- check required variables --
        missing_required_vars = [
            i
            for i in [
                "ENTITY_TYPE",
                "ENTITY_ID",
                "EVENT_ID",
                "EVENT_TIMESTAMP",
                "EVENT_LABEL",
                "LABEL_TIMESTAMP",
            ]
            if i not in set(df.columns)
        ]
        if len(missing_required_vars) != 0:
            raise ValueError(
                f"Required columns {missing_required_vars} are not included in the training data."
            )

        # -- check if entity types only contains one value --
        entity_types = list(df["ENTITY_TYPE"].unique())
        if len(entity_types) > 1:
            raise ValueError(
                "Currently, Amazon Fraud Detector only support one ENTITY_TYPE per EVENT_TYPE."
            )
    else:
        missing_required_vars = [
            i for i in ["EVENT_LABEL", "EVENT_TIMESTAMP"] if i not in set(variables_map.keys())
        ]
        if len(missing_required_vars) != 0:
            logging.error("Required variables {0} are not mapped.".format(missing_required_vars))

    # -- get data summary --
    df_stats = summary_stats(df, variables_map, mandatory=stored)

    # -- prepare schema for following steps --
    training_data_schema, event_variables, event_labels = prepare_schema(
        df, df_stats, variables_map, stored=stored
    )

    print("--- summary stats ---")
    print(df_stats)
    print("--- event variables ---")
    print(event_variables)
    print("--- event labels ---")
    print(event_labels)
    print("--- training data schema ---")
    print(training_data_schema)

    return df_stats, training_data_schema, event_variables, event_labels


# -- shared checks ------------------------------------------------------------------------------


def _check_scored(predictions: pd.DataFrame, outcomes: list[str]) -> None:
    """Every record scored (the notebooks' ``_predict`` turns any error into -999/['error'])."""
    failed = predictions[predictions["score"].astype(str) == "-999"]
    assert failed.empty, f"{len(failed)} of {len(predictions)} predictions failed"
    assert all(0 <= float(s) <= 1000 for s in predictions["score"])
    for score, got in zip(predictions["score"], predictions["outcomes"], strict=True):
        expected = "fraud" if score > 950 else "investigate" if score > 750 else "approve"
        assert list(got) == [expected], (score, got)
    assert set(outcomes) == {"fraud", "investigate", "approve"}


# -- the cells both End-to-End notebooks share (word for word, or but for names and values) ----


def create_variables(client, features_dict, stored=True):  # type: ignore[no-untyped-def]
    """
    Check if variables exist, if not, adds the variable to Fraud Detector
    (``stored=False``: the External_Data_OFI variant, which prints "exists" for "has been defined")
    """
    for feature in features_dict.keys():
        DEFAULT_VALUE = "0.0" if features_dict[feature] in ["NUMERIC", "PRICE"] else "<null>"
        DATA_TYPE = "FLOAT" if features_dict[feature] in ["NUMERIC", "PRICE"] else "STRING"

        try:
            resp = client.get_variables(name=feature)
            features_dict[feature] = resp["variables"][0]["dataType"]
            if stored:
                print(
                    "{0} has been defined, data type: {1}".format(feature, features_dict[feature])
                )
            else:
                print("{0} exists, data type: {1}".format(feature, features_dict[feature]))
        except:
            print("Creating variable: {0}".format(feature))
            resp = client.create_variable(
                name=feature,
                dataType=DATA_TYPE,
                dataSource="EVENT",
                defaultValue=DEFAULT_VALUE,
                description=feature,
                variableType=features_dict[feature],
            )
    return features_dict


def create_label(client, label_mapper):  # type: ignore[no-untyped-def]
    """
    Add labels to Fraud Detector
    """
    for label in label_mapper["FRAUD"]:
        response = client.put_label(name=label, description="FRAUD")

    for label in label_mapper["LEGIT"]:
        response = client.put_label(name=label, description="LEGIT")


def create_event_variables_and_labels(
    client: Any, df_stats: pd.DataFrame, training_data_schema: dict[str, Any], stored: bool = True
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Both End-to-End notebooks, 'Create event variables and labels' (calling the two above)."""
    if stored:
        exclude_list = [
            "ENTITY_TYPE",
            "ENTITY_ID",
            "EVENT_ID",
            "EVENT_TIMESTAMP",
            "EVENT_LABEL",
            "LABEL_TIMESTAMP",
            "UNKNOWN",
        ]
    else:  # External_Data_OFI lists them in another order
        exclude_list = [
            "EVENT_ID",
            "ENTITY_ID",
            "EVENT_TIMESTAMP",
            "EVENT_LABEL",
            "LABEL_TIMESTAMP",
            "ENTITY_TYPE",
            "UNKNOWN",
        ]
    features_dict = (
        df_stats.loc[(~df_stats["feature_type"].isin(exclude_list))]
        .set_index("feature_name")["feature_type"]
        .to_dict()
    )
    print("\n --- model variable dict --")
    features_dict = create_variables(client, features_dict, stored=stored)
    print(features_dict)

    label_mapper = training_data_schema["labelSchema"]["labelMapper"]
    print("\n --- model label schema dict --")
    print(label_mapper)
    create_label(client, label_mapper)
    return features_dict, label_mapper


def define_entity_and_event_type(
    client: Any,
    ENTITY_TYPE: str,
    ENTITY_DESC: str,
    EVENT_TYPE: str,
    event_variables: list[str],
    event_labels: list[str],
    stored: bool = True,
) -> None:
    """Both End-to-End notebooks, 'Define your Entity and Event Type'."""
    # (Stored_Data's cell reads the entity type from the data, describes it by its name and
    # enables event ingestion)
    # --- no changes just run this code block ---
    # -- create entity type --
    try:
        response = client.get_entity_types(name=ENTITY_TYPE)
        print("-- entity type exists --")
        print(response)
    except:
        response = client.put_entity_type(name=ENTITY_TYPE, description=ENTITY_DESC)
        print("-- create entity type --")
        print(response)

    # -- create event type --
    ingestion = {"eventIngestion": "ENABLED"} if stored else {}
    try:
        response = client.get_event_types(name=EVENT_TYPE)
        print("\n-- event type exists --")
        print(response)
    except:
        response = client.put_event_type(
            name=EVENT_TYPE,
            eventVariables=event_variables,
            labels=event_labels,
            **ingestion,
            entityTypes=[ENTITY_TYPE],
        )
        print("\n-- create event type --")
        print(response)


def create_and_train_model(
    client: Any,
    MODEL_DESC: str,
    EVENT_TYPE: str,
    MODEL_NAME: str,
    MODEL_TYPE: str,
    training_data_schema: dict[str, Any],
    trainingDataSource: str,
    **events_detail: Any,
) -> tuple[str, dict[str, Any]]:
    """Both End-to-End notebooks, 'Create and train your model': create, train and wait."""
    # --- no changes; just run this code block ---
    # -- create our model --
    try:
        response = client.create_model(
            description=MODEL_DESC,
            eventTypeName=EVENT_TYPE,
            modelId=MODEL_NAME,
            modelType=MODEL_TYPE,
        )
        print("-- initalize model --")
        print(response)
    except Exception:
        pass

    # --- no changes; just run this code block ---
    # -- initalizes the model, it's now ready to train --
    response = client.create_model_version(
        modelId=MODEL_NAME,
        modelType=MODEL_TYPE,
        trainingDataSource=trainingDataSource,
        trainingDataSchema=training_data_schema,
        # ingestedEventsDetail (Stored_Data) or externalEventsDetail (External_Data_OFI):
        **events_detail,
    )
    model_version = response["modelVersionNumber"]
    print("-- model training --")
    print(response)

    # -- model training can take a long time, we'll loop until it's complete  --
    print("-- wait for model training to complete --")
    stime = time.time()
    while True:
        clear_output(wait=True)
        response = client.get_model_version(
            modelId=MODEL_NAME, modelType=MODEL_TYPE, modelVersionNumber=model_version
        )
        if response["status"] == "TRAINING_IN_PROGRESS":
            print(f"current progress: {(time.time() - stime) / 60:{3}.{3}} minutes")
            time.sleep(POLL)  # -- sleep for 60 seconds
        if response["status"] != "TRAINING_IN_PROGRESS":
            print("Model status : " + response["status"])
            break
    etime = time.time()

    # -- summarize --
    print("\n --- model training complete  --")
    print("Elapsed time : %s" % (etime - stime) + " seconds \n")
    print(response)
    assert response["status"] == "TRAINING_COMPLETE", response
    return str(model_version), dict(response)


def activate_model_version(
    client: Any, MODEL_NAME: str, MODEL_TYPE: str, model_version: str
) -> None:
    """Both End-to-End notebooks, 'Create and train your model': activate the version."""
    # -- activate the model version --
    response = client.update_model_version_status(
        modelId=MODEL_NAME,
        modelType=MODEL_TYPE,
        modelVersionNumber=model_version,
        status="ACTIVE",
    )
    print("-- activating model --")
    print(response)

    # -- wait until model is active --
    print("--- waiting until model status is active ")
    stime = time.time()
    while True:
        clear_output(wait=True)
        response = client.get_model_version(
            modelId=MODEL_NAME, modelType=MODEL_TYPE, modelVersionNumber=model_version
        )
        if response["status"] != "ACTIVE":
            print(f"current progress: {(time.time() - stime) / 60:{3}.{3}} minutes")
            time.sleep(POLL)  # sleep for 1 minute
        if response["status"] == "ACTIVE":
            print("Model status : " + response["status"])
            break

    etime = time.time()
    print("Elapsed time : %s" % (etime - stime) + " seconds \n")
    print(response)


def model_performance_summary(
    client: Any, MODEL_NAME: str, MODEL_TYPE: str, model_version: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Both End-to-End notebooks, 'Create and train your model': the two summaries' calls."""
    # -- model performance summary --
    trainingMetrics = client.describe_model_versions(
        modelId=MODEL_NAME,
        modelVersionNumber=model_version,
        modelType=MODEL_TYPE,
        maxResults=10,
    )["modelVersionDetails"][0]["trainingResult"]["trainingMetrics"]

    perf_auc = trainingMetrics["auc"]
    df_model = pd.DataFrame(trainingMetrics["metricDataPoints"])
    # (skipped: the ROC chart of df_model["fpr"], df_model["tpr"])
    assert 0.5 < perf_auc <= 1.0

    # -- variable importance summary --
    varImpMetrics = client.describe_model_versions(
        modelId=MODEL_NAME,
        modelVersionNumber=model_version,
        modelType=MODEL_TYPE,
        maxResults=10,
    )["modelVersionDetails"][0]["trainingResult"]["variableImportanceMetrics"]
    return df_model, dict(varImpMetrics)


def create_detector(
    client: Any, DETECTOR_NAME: str, DETECTOR_DESC: str, EVENT_TYPE: str, df_model: pd.DataFrame
) -> Any:
    """Both End-to-End notebooks, 'Create a Fraud Detector, ...': put the detector; thresholds."""
    # -- put detector, initalizes your detector --
    response = client.put_detector(
        detectorId=DETECTOR_NAME, description=DETECTOR_DESC, eventTypeName=EVENT_TYPE
    )

    # -- check the score thresholds with FPR from 1% to 6% --
    model_stat = df_model.sort_values(by="fpr")
    model_stat["fpr_bin"] = np.ceil(model_stat["fpr"] * 100) * 0.01
    m = model_stat.loc[model_stat.groupby(["fpr_bin"])["threshold"].idxmin()]
    m = m.round(decimals=2)[["fpr", "precision", "tpr", "threshold"]]
    print(" --- score thresholds 1% to 6% --- ")
    print(m.loc[(m["fpr"] > 0.0) & (m["fpr"] <= 0.06)].reset_index(drop=True))
    return response


def create_outcomes_and_rules(
    client: Any, MODEL_NAME: str, DETECTOR_NAME: str
) -> tuple[list[dict[str, str]], list[str]]:
    """Both End-to-End notebooks, 'Create a Fraud Detector, ...': outcomes and rules."""
    # -- decide what threshold and corresponding outcome you want to add --
    # here, we create three simple rules by cutting the score at [950,750], and create three
    # outcome ['fraud', 'investigate', 'approve']
    score_cuts = [950, 750]  # Note: recommend to fine tune this based on your business use case
    outcomes = ["fraud", "investigate", "approve"]  # Note: recommend to define this likewise

    def create_outcomes(outcomes):  # type: ignore[no-untyped-def]
        """
        Create Fraud Detector Outcomes
        """
        for outcome in outcomes:
            print("creating outcome variable: {0} ".format(outcome))
            response = client.put_outcome(name=outcome, description=outcome)

    def create_rules(score_cuts, outcomes):  # type: ignore[no-untyped-def]
        """
        Creating rules

        Arguments:
            score_cuts  - list of score cuts to create rules
            outcomes    - list of outcomes associated with the rules

        Returns:
            a rule list to used when creating detector
        """

        if len(score_cuts) + 1 != len(outcomes):
            logging.error("Your socre cuts and outcomes are not matched.")

        rule_list = []
        for i in range(len(outcomes)):
            # rule expression
            if i < (len(outcomes) - 1):
                rule = "${0}_insightscore > {1}".format(MODEL_NAME, score_cuts[i])
            else:
                rule = "${0}_insightscore <= {1}".format(MODEL_NAME, score_cuts[i - 1])

            # append to rule_list (used when create detector)
            rule_id = "rules{0}_{1}".format(i, MODEL_NAME)

            rule_list.append({"ruleId": rule_id, "ruleVersion": "1", "detectorId": DETECTOR_NAME})

            # create rules
            print("creating rule: {0}: IF {1} THEN {2}".format(rule_id, rule, outcomes[i]))
            try:
                response = client.create_rule(
                    ruleId=rule_id,
                    detectorId=DETECTOR_NAME,
                    expression=rule,
                    language="DETECTORPL",
                    outcomes=[outcomes[i]],
                )
            except:
                print("this rule already exists in this detector")

        return rule_list

    # -- create outcomes --
    print(" -- create outcomes --")
    create_outcomes(outcomes)

    # -- create rules --
    print(" -- create rules --")
    rule_list = create_rules(score_cuts, outcomes)
    # the rules exist (the cell's bare except would also hide a refused rule):
    for rule in rule_list:
        details = client.get_rules(
            detectorId=DETECTOR_NAME, ruleId=rule["ruleId"], ruleVersion=rule["ruleVersion"]
        )["ruleDetails"]
        assert len(details) == 1
    return rule_list, outcomes


def assemble_detector(
    client: Any,
    DETECTOR_NAME: str,
    rule_list: list[dict[str, str]],
    MODEL_NAME: str,
    MODEL_TYPE: str,
    model_version: str,
    response: Any,
) -> str:
    """Both End-to-End notebooks, 'Create a Fraud Detector, ...': assemble it, then activate it."""
    # -- create detector version --
    client.create_detector_version(
        detectorId=DETECTOR_NAME,
        rules=rule_list,
        modelVersions=[
            {
                "modelId": MODEL_NAME,
                "modelType": MODEL_TYPE,
                "modelVersionNumber": model_version,
            }
        ],
        # there are 2 options for ruleExecutionMode:
        #   'ALL_MATCHED'    - return all matched rules' outcome
        #   'FIRST_MATCHED'  - return first matched rule's outcome
        ruleExecutionMode="FIRST_MATCHED",
    )

    print("\n -- detector created -- ")
    print(response)  # (the notebooks print put_detector's response here)

    # -- activate the latest detector version --
    detector_version_summaries = client.describe_detector(detectorId=DETECTOR_NAME)[
        "detectorVersionSummaries"
    ]
    latest_detector_version = max([det["detectorVersionId"] for det in detector_version_summaries])
    print("Latest Detector Version:", latest_detector_version)

    response = client.update_detector_version_status(
        detectorId=DETECTOR_NAME, detectorVersionId=latest_detector_version, status="ACTIVE"
    )
    print("\n -- detector activated -- ")
    print(response)
    return str(latest_detector_version)


def get_predictions(
    _predict: Callable[[list[Any]], list[Any]],
    df_test: pd.DataFrame,
    cols_keep: list[str],
    outcomes: list[str],
) -> pd.DataFrame:
    """Both End-to-End notebooks, 'Make predictions': get predictions in parallel."""
    df_list = df_test[cols_keep].values.tolist()
    with Pool(processes=5) as p:
        result = p.map(_predict, df_list)
    predictions = pd.DataFrame(result, columns=cols_keep + ["score", "outcomes"])
    assert len(predictions) == len(df_test) > 0
    _check_scored(predictions, outcomes)
    return predictions


def check_auc(
    predictions: pd.DataFrame, label_column: str, label_mapper: dict[str, list[str]]
) -> float:
    """Both End-to-End notebooks, 'Make predictions': check AUC."""
    # -- check AUC --
    predictions["event_label_int"] = np.nan
    predictions.loc[predictions[label_column].isin(label_mapper["LEGIT"]), "event_label_int"] = 0
    predictions.loc[predictions[label_column].isin(label_mapper["FRAUD"]), "event_label_int"] = 1

    fpr, tpr, threshold = roc_curve(predictions["event_label_int"], predictions["score"])
    test_auc = auc(fpr, tpr)
    # (skipped: the plot of the test ROC curve)
    print(f"test AUC: {test_auc:.3f}")
    return float(test_auc)


# -- Fraud_Detector_End_to_End_Stored_Data.ipynb ------------------------------------------------


def test_end_to_end_stored_data(tmp_path: Path) -> None:
    bucket = tmp_path / "afd-txn-data-bucket"  # stands for the S3 bucket
    bucket.mkdir()
    synthetic_txn_data(3000, seed=11).to_csv(bucket / "synthetic_txn_data.csv", index=False)

    with running_server(tmp_path) as server, pandas_as_in_2021():
        # -- initialize the AFD client
        client = server.client()  # changed: endpoint_url and credentials

        # -- this is all you need to fill out, once complete simply interactively run each cell
        EVENT_TYPE = "online_transaction_event"
        EVENT_DESC = "your event description"

        MODEL_NAME = "txn_model_ga1"
        MODEL_DESC = "your model description"

        DETECTOR_NAME = "txn_detector_ga1"
        DETECTOR_DESC = "your detector description"

        MODEL_TYPE = "TRANSACTION_FRAUD_INSIGHTS"

        S3_BUCKET = str(bucket)  # changed: data location
        S3_FILE = "synthetic_txn_data.csv"
        ARN_ROLE = ROLE

        VARIABLES_MAP = {
            "IP_ADDRESS": "ip_address",  # e.g. ip_address
            "EMAIL_ADDRESS": "customer_email",  # e.g. customer_email
        }

        # -- percentage of data used in model training (by default: 80%).
        TRAINING_PERC = 0.8

        # -- connect to S3, snag file, and convert to a panda's dataframe --
        body = Path(S3_BUCKET) / S3_FILE  # changed: a local file instead of s3.Object(...)
        df = pd.read_csv(body, dtype={"EVENT_LABEL": object})

        # -- by default, we split the data into training (80%) and test set (20%) --
        earliest_event = df["EVENT_TIMESTAMP"].min()
        latest_event = df["EVENT_TIMESTAMP"].max()
        if TRAINING_PERC > 1 or TRAINING_PERC <= 0:
            raise ValueError("TRAINING_PERC should be in (0,1]")
        else:
            test_split_row = int(df.shape[0] * TRAINING_PERC)
            test_split_time = df.sort_values(by="EVENT_TIMESTAMP").iloc[test_split_row][
                "EVENT_TIMESTAMP"
            ]
            test_split_time = pd.to_datetime(test_split_time).strftime("%Y-%m-%dT%H:%M:%SZ")

        print("--- event timestamp ---")
        print("earliest event:", earliest_event, ", latest event:", latest_event)
        print("split training and test set at:", test_split_time)

        # -- call profiling function --
        df_stats, training_data_schema, event_variables, event_labels = profiling(df, VARIABLES_MAP)
        assert event_variables == list(SAMPLE_VARIABLES)
        assert event_labels == ["0", "1"]

        # -- create event variables and labels --
        features_dict, label_mapper = create_event_variables_and_labels(
            client, df_stats, training_data_schema
        )

        # what the printed output shows, a second run finding every variable defined:
        assert create_variables(client, dict(features_dict)) == {
            name: "FLOAT"
            if name in ("billing_latitude", "billing_longitude", "order_price")
            else "STRING"
            for name in SAMPLE_VARIABLES
        }

        # -- create entity types if not exist --
        entity_type = list(df["ENTITY_TYPE"].unique())[0]

        define_entity_and_event_type(
            client, entity_type, entity_type, EVENT_TYPE, event_variables, event_labels
        )
        assert client.get_event_types(name=EVENT_TYPE)["eventTypes"][0]["labels"] == ["0", "1"]

        # -- markdown "Send Events": one event by send_event, checked by get_event --
        response = client.send_event(
            eventId="3200002a7ee5e7d0dc80ad7906d792373b",
            eventTypeName=EVENT_TYPE,
            eventTimestamp="2020-11-28T14:59:50Z",
            eventVariables={
                "card_bin": "224169",
                "ip_address": "57.76.234.46",
                "customer_email": "kennedyscott@hotmail.com",
                "user_agent": "Mozilla/5.0 (compatible; MSIE 9.0; Windows 95; Trident/3.0)",
                "product_category": "kids_pets",
                "order_price": "41.45",
                "merchant": "fraud_Waelchi Inc",
            },
            assignedLabel="0",
            labelTimestamp="2020-11-28T14:59:50Z",
            entities=[{"entityType": entity_type, "entityId": "153-04-1621"}],
        )
        event = client.get_event(
            eventId="3200002a7ee5e7d0dc80ad7906d792373b", eventTypeName=EVENT_TYPE
        )["event"]
        assert event["currentLabel"] == "0"
        assert event["eventVariables"]["order_price"] == "41.45"
        assert event["entities"] == [{"entityType": "customer", "entityId": "153-04-1621"}]

        ## -- create batch import job --
        client.create_batch_import_job(
            jobId=f"batch_import_{EVENT_TYPE}",
            inputPath=f"file://{S3_BUCKET}/{S3_FILE}",  # changed: data location
            outputPath=f"file://{S3_BUCKET}",  # changed: data location
            eventTypeName=EVENT_TYPE,
            iamRoleArn=ARN_ROLE,
        )

        # -- takes sometime to import all data into AFD  --
        print("-- wait for model training to complete --")
        stime = time.time()
        while True:
            clear_output(wait=True)
            response = client.get_batch_import_jobs(jobId=f"batch_import_{EVENT_TYPE}")
            status = response["batchImports"][0]["status"]
            if status == "IN_PROGRESS":
                print(f"current progress: {(time.time() - stime) / 60:{3}.{3}} minutes")
                time.sleep(POLL)  # -- sleep for 60 seconds
            else:
                print(f"Model status : {status}")
                break
        etime = time.time()

        # -- summarize --
        print("\n --- batch import complete  --")
        print("Elapsed time : %s" % (etime - stime) + " seconds \n")
        print(response)
        (job,) = response["batchImports"]
        assert job["status"] == "COMPLETE", job
        assert job["processedRecordsCount"] == job["totalRecordsCount"] == len(df)
        assert job["failedRecordsCount"] == 0

        ## -- check the data has been imported --
        client.get_event_types(name=EVENT_TYPE)

        # -- markdown "(Optional) Update Label": update_event_label, then get_event --
        client.update_event_label(
            eventId="3200002a7ee5e7d0dc80ad7906d792373b",
            eventTypeName=EVENT_TYPE,
            assignedLabel="1",
            labelTimestamp="2021-05-01T17:01:00Z",
        )
        event = client.get_event(
            eventId="3200002a7ee5e7d0dc80ad7906d792373b", eventTypeName=EVENT_TYPE
        )["event"]
        assert (event["currentLabel"], event["labelTimestamp"]) == ("1", "2021-05-01T17:01:00Z")

        model_version, response = create_and_train_model(
            client,
            MODEL_DESC,
            EVENT_TYPE,
            MODEL_NAME,
            MODEL_TYPE,
            training_data_schema,
            trainingDataSource="INGESTED_EVENTS",
            ingestedEventsDetail={
                "ingestedEventsTimeWindow": {
                    "startTime": df["EVENT_TIMESTAMP"].min(),
                    "endTime": test_split_time,
                }
            },
        )
        assert response["ingestedEventsDetail"]["ingestedEventsTimeWindow"]["endTime"] == (
            test_split_time
        )

        activate_model_version(client, MODEL_NAME, MODEL_TYPE, model_version)

        # -- model performance summary; variable importance summary --
        df_model, varImpMetrics = model_performance_summary(
            client, MODEL_NAME, MODEL_TYPE, model_version
        )
        assert {"fpr", "precision", "tpr", "threshold"} <= set(df_model.columns)
        df_var_imp = pd.DataFrame(varImpMetrics["logOddsMetrics"])
        # (skipped: df_var_imp.plot.barh(x='variableName', y='variableImportance', ...))
        assert {"variableName", "variableImportance"} <= set(df_var_imp.columns)

        response = create_detector(client, DETECTOR_NAME, DETECTOR_DESC, EVENT_TYPE, df_model)
        rule_list, outcomes = create_outcomes_and_rules(client, MODEL_NAME, DETECTOR_NAME)
        latest_detector_version = assemble_detector(
            client, DETECTOR_NAME, rule_list, MODEL_NAME, MODEL_TYPE, model_version, response
        )
        assert latest_detector_version == "1"

        def _predict(record):  # type: ignore[no-untyped-def]
            """
            Get prediction on one event
            """
            event_id = str(record[0])
            entity_id = str(record[1])
            event_timestamp = str(record[2])
            label_timestamp = str(record[4])

            try:
                rec_content = {
                    event_variables[i]: str(record[5:][i])
                    for i in range(len(event_variables))
                    if pd.isnull(record[5 + i]) == False
                }
                pred = client.get_event_prediction(
                    detectorId=DETECTOR_NAME,
                    detectorVersionId=latest_detector_version,
                    eventId=event_id,
                    eventTypeName=EVENT_TYPE,
                    eventTimestamp=label_timestamp,
                    entities=[{"entityType": entity_type, "entityId": entity_id}],
                    eventVariables=rec_content,
                )
                record.append(
                    pred["modelScores"][0]["scores"]["{0}_insightscore".format(MODEL_NAME)]
                )
                record.append(pred["ruleResults"][0]["outcomes"])
            except:
                record.append("-999")
                record.append(["error"])

            return record

        # -- get predictions in parallel --
        if TRAINING_PERC < 1:
            df_test = df[df["EVENT_TIMESTAMP"] > test_split_time]
        else:
            # used all data to train the model, GEP on the last 100 events to demonstrate the API
            df_test = df.tail(100)
        cols_keep = [
            "EVENT_ID",
            "ENTITY_ID",
            "EVENT_TIMESTAMP",
            "EVENT_LABEL",
            "LABEL_TIMESTAMP",
        ] + event_variables
        predictions = get_predictions(_predict, df_test, cols_keep, outcomes)

        # -- check the distribution by labels --
        # (skipped: the histogram of the scores of each label)

        test_auc = check_auc(predictions, "EVENT_LABEL", label_mapper)
        assert test_auc > 0.7


# -- Fraud_Detector_End_to_End_External_Data_OFI.ipynb ------------------------------------------


def test_end_to_end_external_data_ofi(tmp_path: Path) -> None:
    bucket = tmp_path / "afd-registration-data"  # stands for the S3 bucket
    bucket.mkdir()
    data = external_layout(synthetic_txn_data(3000, seed=12))
    split = int(len(data) * 0.8)
    data.iloc[:split].to_csv(bucket / "registration_data_train.csv", index=False)
    data.iloc[split:].to_csv(bucket / "registration_data_test.csv", index=False)

    with running_server(tmp_path) as server, pandas_as_in_2021():
        # -- initialize the AFD client
        client = server.client()  # changed: endpoint_url and credentials

        # -- this is all you need to fill out, once complete simply interactively run each cell
        EVENT_TYPE = "registration_event"
        EVENT_DESC = "your event description"

        ENTITY_TYPE = "customer"
        ENTITY_DESC = "your entity description"

        MODEL_NAME = "registration_model"
        MODEL_DESC = "your model description"

        DETECTOR_NAME = "registration_detector"
        DETECTOR_DESC = "your detector description"

        MODEL_TYPE = "ONLINE_FRAUD_INSIGHTS"  # currently only OFI support external data source

        ARN_ROLE = ROLE
        S3_BUCKET = str(bucket)  # changed: data location
        S3_FILE_TRAIN = "registration_data_train.csv"
        S3_FILE_TEST = "registration_data_test.csv"
        S3_FILE_TRAIN_LOC = "file://{0}/{1}".format(S3_BUCKET, S3_FILE_TRAIN)  # changed: file://

        # -- config of your data --
        VARIABLES_MAP = {
            # required
            "EVENT_TIMESTAMP": "EVENT_TIMESTAMP",
            "EVENT_LABEL": "EVENT_LABEL",
            # optional
            "IP_ADDRESS": "ip_address",  # e.g. ip_address
            "EMAIL_ADDRESS": "customer_email",  # e.g. customer_email
            "NUMERIC": ["billing_latitude", "billing_longitude"],
        }

        # -- connect to S3, snag file, and convert to a panda's dataframe --
        body = Path(S3_BUCKET) / S3_FILE_TRAIN  # changed: a local file instead of s3.Object(...)
        df = pd.read_csv(body, dtype={VARIABLES_MAP["EVENT_LABEL"]: object})

        # -- call profiling function --
        df_stats, training_data_schema, event_variables, event_labels = profiling(
            df, VARIABLES_MAP, stored=False
        )
        assert event_variables == list(SAMPLE_VARIABLES)
        assert training_data_schema["labelSchema"] == {
            "labelMapper": {"FRAUD": ["1"], "LEGIT": ["0"]}
        }

        # -- create event variables and labels --
        features_dict, label_mapper = create_event_variables_and_labels(
            client, df_stats, training_data_schema, stored=False
        )

        # -- create entity type; create event type --
        define_entity_and_event_type(
            client,
            ENTITY_TYPE,
            ENTITY_DESC,
            EVENT_TYPE,
            event_variables,
            event_labels,
            stored=False,
        )
        # a second run of the cell finds both, as the notebook's printed output shows:
        assert client.get_entity_types(name=ENTITY_TYPE)["entityTypes"][0]["name"] == "customer"
        (event_type,) = client.get_event_types(name=EVENT_TYPE)["eventTypes"]
        assert event_type["eventVariables"] == list(SAMPLE_VARIABLES)
        assert sorted(event_type["labels"]) == ["0", "1"]

        model_version, response = create_and_train_model(
            client,
            MODEL_DESC,
            EVENT_TYPE,
            MODEL_NAME,
            MODEL_TYPE,
            training_data_schema,
            trainingDataSource="EXTERNAL_EVENTS",
            externalEventsDetail={"dataLocation": S3_FILE_TRAIN_LOC, "dataAccessRoleArn": ARN_ROLE},
        )
        assert response["externalEventsDetail"]["dataLocation"] == S3_FILE_TRAIN_LOC

        activate_model_version(client, MODEL_NAME, MODEL_TYPE, model_version)

        # -- model performance summary; variable importance summary --
        df_model, varImpMetrics = model_performance_summary(
            client, MODEL_NAME, MODEL_TYPE, model_version
        )
        df_var_imp = pd.DataFrame(varImpMetrics["logOddsMetrics"]).sort_values(
            by="variableImportance"
        )
        # (skipped: df_var_imp.plot.barh(x='variableName', y='variableImportance', ...))
        assert not df_var_imp.empty

        response = create_detector(client, DETECTOR_NAME, DETECTOR_DESC, EVENT_TYPE, df_model)
        rule_list, outcomes = create_outcomes_and_rules(client, MODEL_NAME, DETECTOR_NAME)
        latest_detector_version = assemble_detector(
            client, DETECTOR_NAME, rule_list, MODEL_NAME, MODEL_TYPE, model_version, response
        )

        # -- load test data --
        body = Path(S3_BUCKET) / S3_FILE_TEST  # changed: a local file instead of s3.Object(...)
        df_test = pd.read_csv(body, dtype={VARIABLES_MAP["EVENT_LABEL"]: object})

        def _predict(record):  # type: ignore[no-untyped-def]
            """
            Get prediction on one event
            """
            event_id = str(uuid.uuid1())
            entity_id = str(uuid.uuid1())
            event_timestamp = str(record[0])

            try:
                rec_content = {
                    event_variables[i]: str(record[2:][i])
                    for i in range(len(event_variables))
                    if pd.isnull(record[2 + i]) == False
                }
                pred = client.get_event_prediction(
                    detectorId=DETECTOR_NAME,
                    detectorVersionId=latest_detector_version,
                    eventId=event_id,
                    eventTypeName=EVENT_TYPE,
                    eventTimestamp=event_timestamp,
                    entities=[{"entityType": ENTITY_TYPE, "entityId": entity_id}],
                    eventVariables=rec_content,
                )
                record.append(
                    pred["modelScores"][0]["scores"]["{0}_insightscore".format(MODEL_NAME)]
                )
                record.append(pred["ruleResults"][0]["outcomes"])
            except:
                record.append("-999")
                record.append(["error"])

            return record

        # -- get predictions in parallel --
        cols_keep = [
            VARIABLES_MAP["EVENT_TIMESTAMP"],
            VARIABLES_MAP["EVENT_LABEL"],
        ] + event_variables
        predictions = get_predictions(_predict, df_test, cols_keep, outcomes)

        # -- check the first 5 rows --
        print(predictions.head())

        test_auc = check_auc(predictions, VARIABLES_MAP["EVENT_LABEL"], label_mapper)
        assert test_auc > 0.6


# -- Fraud_Detector_Send_Event.ipynb ------------------------------------------------------------


def _define_event_type_on_console(client: Any, name: str, *, ingestion: str) -> None:
    """What the notebook's "Preparation" asks for first: an entity type and an event type
    "defined on the Amazon Fraud Detector console" (here through the API)."""
    types = {
        "card_bin": "CARD_BIN",
        "billing_street": "BILLING_ADDRESS_L1",
        "billing_city": "BILLING_CITY",
        "billing_state": "BILLING_STATE",
        "billing_zip": "BILLING_ZIP",
        "billing_latitude": "NUMERIC",
        "billing_longitude": "NUMERIC",
        "ip_address": "IP_ADDRESS",
        "customer_email": "EMAIL_ADDRESS",
        "phone": "PHONE_NUMBER",
        "user_agent": "USERAGENT",
        "product_category": "PRODUCT_CATEGORY",
        "order_price": "PRICE",
        "payment_currency": "CURRENCY_CODE",
    }
    client.put_entity_type(name="customer")
    for label in ("0", "1"):
        client.put_label(name=label)
    for variable in SAMPLE_VARIABLES:
        kind = types.get(variable, "CATEGORICAL")
        number = kind in ("NUMERIC", "PRICE")
        client.create_variable(
            name=variable,
            dataType="FLOAT" if number else "STRING",
            dataSource="EVENT",
            defaultValue="0.0" if number else "<null>",
            variableType=kind,
        )
    client.put_event_type(
        name=name,
        eventVariables=list(SAMPLE_VARIABLES),
        labels=["0", "1"],
        entityTypes=["customer"],
        eventIngestion=ingestion,
    )


def test_send_event(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bucket = tmp_path / "afd-send-event-data"  # stands for the S3 bucket
    bucket.mkdir()
    data = synthetic_txn_data(1200, seed=13)
    # timestamps as exported by many systems; the notebook converts them to AFD's form
    data["EVENT_TIMESTAMP"] = pd.to_datetime(data["EVENT_TIMESTAMP"]).dt.strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    data.loc[data.index % 10 == 3, "EVENT_LABEL"] = None  # some events have no label yet
    data.to_csv(bucket / "transaction_data.csv", index=False)

    with running_server(tmp_path) as server, pandas_as_in_2021():
        _define_event_type_on_console(server.client(), "transaction_event", ingestion="DISABLED")

        # -- initialize the AFD client
        client = server.client()  # changed: endpoint_url and credentials

        # -- this is all you need to fill out, once complete simply interactively run each cell
        S3_BUCKET = str(bucket)  # changed: data location
        S3_FILE = "transaction_data.csv"

        EVENT_TYPE = "transaction_event"

        ENTITY_ID_COL = "ENTITY_ID"
        EVENT_ID_COL = "EVENT_ID"
        TIMESTAMP_COL = "EVENT_TIMESTAMP"
        LABEL_COL = "EVENT_LABEL"

        # -- connect to S3, snag file, and convert to a panda's dataframe --
        body = Path(S3_BUCKET) / S3_FILE  # changed: a local file instead of s3.Object(...)
        df = pd.read_csv(body, dtype=object)

        # -- convert the event timestamp to standard format --
        df[TIMESTAMP_COL] = pd.to_datetime(df[TIMESTAMP_COL]).apply(
            lambda x: x.strftime("%Y-%m-%dT%H:%M:%SZ")
        )

        print("Number of events to send:", df.shape[0])

        # record_count = 5000           # -- send 5000 records for testing --
        record_count = df.shape[0]  # -- uncomment this to run all of the records --

        # -- check the eventType, if eventIngestion is disabled, enable it before send events
        response = client.get_event_types(name=EVENT_TYPE)
        event_variables = response["eventTypes"][0]["eventVariables"]
        event_labels = response["eventTypes"][0]["labels"]
        entity_type = response["eventTypes"][0]["entityTypes"][0]

        if response["eventTypes"][0]["eventIngestion"] != "ENABLED":
            response = client.put_event_type(
                name=EVENT_TYPE,
                eventVariables=event_variables,
                labels=event_labels,
                eventIngestion="ENABLED",
                entityTypes=[entity_type],
            )
            response = client.get_event_types(name=EVENT_TYPE)
        print(
            'Event Ingestion of eventType "{0}" has been {1}.'.format(
                EVENT_TYPE, response["eventTypes"][0]["eventIngestion"]
            )
        )
        assert response["eventTypes"][0]["eventIngestion"] == "ENABLED"

        def _send_event(record):  # type: ignore[no-untyped-def]
            event_id = str(record[0])
            entity_id = str(record[1])
            event_timestamp = str(record[2])
            event_label = record[3]

            try:
                rec_content = {
                    event_variables[i]: record[4:][i]
                    for i in range(len(event_variables))
                    if pd.isnull(record[4 + i]) == False
                }
                if pd.isnull(event_label):
                    # If event label is missing, do not assign label
                    response = client.send_event(
                        eventId=event_id,
                        eventTypeName=EVENT_TYPE,
                        eventTimestamp=event_timestamp,
                        eventVariables=rec_content,
                        entities=[{"entityType": entity_type, "entityId": entity_id}],
                    )
                else:
                    response = client.send_event(
                        eventId=event_id,
                        eventTypeName=EVENT_TYPE,
                        eventTimestamp=event_timestamp,
                        eventVariables=rec_content,
                        assignedLabel=str(event_label),
                        labelTimestamp=event_timestamp,
                        entities=[{"entityType": entity_type, "entityId": entity_id}],
                    )
                http_status_code = response["ResponseMetadata"]["HTTPStatusCode"]
                if http_status_code != 200:
                    logging.error(
                        "EventId: {0}, httpStatusCode: {1}".format(event_id, str(http_status_code))
                    )
            except Exception as e:
                logging.error("EventId: {0}, Failed to send_event: {1}".format(event_id, str(e)))

        # -- send events in parallel --
        cols_keep = [EVENT_ID_COL, ENTITY_ID_COL, TIMESTAMP_COL, LABEL_COL] + event_variables
        df_list = df.iloc[0:record_count, :]
        df_list = df_list[cols_keep].values.tolist()
        with caplog.at_level(logging.ERROR), Pool(processes=8) as p:
            result = p.map(_send_event, df_list)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

        # every event is stored, with its label when it had one (the notebook's get_event)
        for i in (0, 3, len(df) - 1):
            row = df.iloc[i]
            event = client.get_event(eventId=row[EVENT_ID_COL], eventTypeName=EVENT_TYPE)["event"]
            assert event["eventTimestamp"] == row[TIMESTAMP_COL]
            assert event["entities"] == [{"entityType": "customer", "entityId": row[ENTITY_ID_COL]}]
            assert event["eventVariables"]["merchant"] == row["merchant"]
            assert event.get("currentLabel") == (
                None if pd.isnull(row[LABEL_COL]) else row[LABEL_COL]
            )

        # -- (Optional) Delete All Events by Event Type (the notebook's markdown code) --
        # delete all the events with the event type
        response = client.delete_events_by_event_type(eventTypeName=EVENT_TYPE)
        assert response["eventsDeletionStatus"] == "IN_PROGRESS"
        # if you see the status is COMPLETE, go to step 3.
        while True:
            status = client.get_delete_events_by_event_type_status(eventTypeName=EVENT_TYPE)
            if status["eventsDeletionStatus"] != "IN_PROGRESS":
                break
            time.sleep(POLL)
        assert status == {**status, "eventTypeName": EVENT_TYPE, "eventsDeletionStatus": "COMPLETE"}
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_event(eventId=df.iloc[0][EVENT_ID_COL], eventTypeName=EVENT_TYPE)
        # delete the event type
        client.delete_event_type(name=EVENT_TYPE)
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_event_types(name=EVENT_TYPE)


# -- Fraud_Detector_GetEventPrediction_API_Example.ipynb ----------------------------------------


def _create_detector_on_console(client: Any, training_file: Path) -> None:
    """The notebook's "Preparation": a detector "created on Amazon Fraud Detector" beforehand
    (its guide, part A and B), here through the API: an OFI model trained on the file, score
    rules like the End_to_End notebooks', version 1 ACTIVE. Ingestion stays DISABLED, as the
    notebook's printed output shows for its event type."""
    _define_event_type_on_console(client, "transaction", ingestion="DISABLED")
    client.create_model(
        modelId="transaction_model", modelType="ONLINE_FRAUD_INSIGHTS", eventTypeName="transaction"
    )
    number = client.create_model_version(
        modelId="transaction_model",
        modelType="ONLINE_FRAUD_INSIGHTS",
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema={
            "modelVariables": list(SAMPLE_VARIABLES),
            "labelSchema": {"labelMapper": {"FRAUD": ["1"], "LEGIT": ["0"]}},
        },
        externalEventsDetail={"dataLocation": f"file://{training_file}", "dataAccessRoleArn": ROLE},
    )["modelVersionNumber"]
    deadline = time.monotonic() + 120
    while (
        status := client.get_model_version(
            modelId="transaction_model",
            modelType="ONLINE_FRAUD_INSIGHTS",
            modelVersionNumber=number,
        )["status"]
    ) == "TRAINING_IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(POLL)
    assert status == "TRAINING_COMPLETE"
    client.update_model_version_status(
        modelId="transaction_model",
        modelType="ONLINE_FRAUD_INSIGHTS",
        modelVersionNumber=number,
        status="ACTIVE",
    )
    client.put_detector(detectorId="transaction_fraud_detector", eventTypeName="transaction")
    rules = []
    for i, (expression, outcome) in enumerate(
        (
            ("$transaction_model_insightscore > 950", "fraud"),
            ("$transaction_model_insightscore > 750", "investigate"),
            ("$transaction_model_insightscore <= 750", "approve"),
        )
    ):
        client.put_outcome(name=outcome)
        rules.append(
            client.create_rule(
                ruleId=f"rules{i}_transaction_model",
                detectorId="transaction_fraud_detector",
                expression=expression,
                language="DETECTORPL",
                outcomes=[outcome],
            )["rule"]
        )
    client.create_detector_version(
        detectorId="transaction_fraud_detector",
        rules=rules,
        modelVersions=[
            {
                "modelId": "transaction_model",
                "modelType": "ONLINE_FRAUD_INSIGHTS",
                "modelVersionNumber": number,
            }
        ],
        ruleExecutionMode="FIRST_MATCHED",
    )
    client.update_detector_version_status(
        detectorId="transaction_fraud_detector", detectorVersionId="1", status="ACTIVE"
    )


def test_get_event_prediction_api(tmp_path: Path) -> None:
    bucket = tmp_path / "aws-afd-demo-data"  # stands for the S3 bucket
    bucket.mkdir()
    data = external_layout(synthetic_txn_data(3000, seed=14))
    data.to_csv(bucket / "txn_sample_data_demo.csv", index=False)
    training = data[data["EVENT_TIMESTAMP"] < "2021-02-01"]
    training.to_csv(bucket / "txn_training_data.csv", index=False)

    with running_server(tmp_path) as server, pandas_as_in_2021():
        _create_detector_on_console(server.client(), bucket / "txn_training_data.csv")

        # -- initialize the AFD client
        client = server.client()  # changed: endpoint_url and credentials

        # -- this is all you need to fill out, once complete simply interactively run each cell
        DETECTOR_NAME = "transaction_fraud_detector"  # e.g. transaction_fraud_detector_tfi
        DETECTOR_VER = "1"  # e.g. 1

        S3_BUCKET = str(bucket)  # changed: data location
        S3_FILE = "txn_sample_data_demo.csv"  # e.g. txn_sample_data_demo.csv
        TEST_SPLIT_TIME = "2021-02-01"  # evaluate model performance on events after it

        ENTITY_ID_COL = "entity_id"  # e.g. "ENTITY_ID"
        EVENT_ID_COL = "event_id"  # e.g. "EVENT_ID"
        TIMESTAMP_COL = "EVENT_TIMESTAMP"  # e.g. "EVENT_TIMESTAMP"
        LABEL_COL = "EVENT_LABEL"  # e.g. "EVENT_LABEL"

        # -- connect to S3, snag file, and convert to a panda's dataframe --
        body = Path(S3_BUCKET) / S3_FILE  # changed: a local file instead of s3.Object(...)
        df = pd.read_csv(body)

        # -- filter the records after TEST_SPLIT_TIME --
        df[TIMESTAMP_COL] = pd.to_datetime(df[TIMESTAMP_COL])
        df_test = df[df[TIMESTAMP_COL] > TEST_SPLIT_TIME]

        # -- convert the event timestamp to standard format --
        df_test[TIMESTAMP_COL] = df_test[TIMESTAMP_COL].apply(
            lambda x: x.strftime("%Y-%m-%dT%H:%M:%SZ")
        )

        df_test.head()

        # -- get model info --
        response = client.get_detector_version(
            detectorId=DETECTOR_NAME, detectorVersionId=DETECTOR_VER
        )
        model_name = response["modelVersions"][0]["modelId"]
        model_type = response["modelVersions"][0]["modelType"]
        model_ver = response["modelVersions"][0]["modelVersionNumber"]

        # -- get event type and related info --
        event_type = client.get_detectors(detectorId=DETECTOR_NAME)["detectors"][0]["eventTypeName"]
        response = client.get_event_types(name=event_type)
        event_variables = response["eventTypes"][0]["eventVariables"]
        entity_type = response["eventTypes"][0]["entityTypes"][0]
        event_labels = client.get_event_types(name=event_type)["eventTypes"][0]["labels"]

        response = client.get_event_types(name=event_type)
        print(
            'Event Ingestion of eventType "{0}" has been {1}.'.format(
                event_type, response["eventTypes"][0]["eventIngestion"]
            )
        )
        assert (model_name, model_type, model_ver) == (
            "transaction_model",
            "ONLINE_FRAUD_INSIGHTS",
            "1.0",
        )
        assert (event_type, entity_type, event_labels) == ("transaction", "customer", ["0", "1"])

        record_count = df_test.shape[0]  # predict on all of the records
        # record_count = 5000                                 # predict on 5000 records

        def _predict(record):  # type: ignore[no-untyped-def]
            """
            Get prediction on one event
            """
            event_id = str(record[0])
            entity_id = str(record[1])
            event_timestamp = str(record[2])

            try:
                rec_content = {
                    event_variables[i]: str(record[4:][i])
                    for i in range(len(event_variables))
                    if pd.isnull(record[4 + i]) == False
                }
                pred = client.get_event_prediction(
                    detectorId=DETECTOR_NAME,
                    detectorVersionId=DETECTOR_VER,
                    eventId=event_id,
                    eventTypeName=event_type,
                    eventTimestamp=event_timestamp,
                    entities=[{"entityType": entity_type, "entityId": entity_id}],
                    eventVariables=rec_content,
                )
                record.append(
                    pred["modelScores"][0]["scores"]["{0}_insightscore".format(model_name)]
                )
                record.append(pred["ruleResults"][0]["outcomes"])
            except:
                record.append("-999")
                record.append(["error"])

            return record

        # -- get predictions in parallel --
        cols_keep = [EVENT_ID_COL, ENTITY_ID_COL, TIMESTAMP_COL, LABEL_COL] + event_variables
        df_list = df_test.iloc[0:record_count]
        df_list = df_list[cols_keep].values.tolist()
        with Pool(processes=5) as p:
            result = p.map(_predict, df_list)
        predictions = pd.DataFrame(result, columns=cols_keep + ["score", "outcomes"])

        print("Scored %d records" % len(predictions))
        assert len(predictions) == len(df_test) > 0
        _check_scored(predictions, ["fraud", "investigate", "approve"])

        predictions.head()

        # -- check score distribution --
        predictions["score_bin"] = pd.cut(
            predictions["score"], 100, labels=list(range(0, 1000, 10))
        )
        predictions["score_outcome"] = predictions["outcomes"].astype(str)
        ctab = pd.crosstab(predictions["score_bin"], predictions["score_outcome"]).reset_index()
        outcome_ordered = pd.DataFrame(
            predictions.groupby(["score_outcome"]).agg({"score": ["mean", "min", "max"]})
        )
        outcome_ordered.columns = ["avg_score", "min_score", "max_score"]
        outcome_ordered = outcome_ordered.sort_values(by="avg_score").reset_index()
        # (skipped: the bar chart of ctab per outcome, matplotlib)
        assert list(outcome_ordered["score_outcome"])[0] == "['approve']"

        # -- check rules defined --
        print("-- rules --")
        rules = client.get_detector_version(
            detectorId=DETECTOR_NAME, detectorVersionId=DETECTOR_VER
        )["rules"]
        for r in rules:
            res = client.get_rules(
                detectorId=DETECTOR_NAME, ruleId=r["ruleId"], ruleVersion=r["ruleVersion"]
            )
            print(res["ruleDetails"][0]["expression"], "-", res["ruleDetails"][0]["outcomes"][0])
        assert res["ruleDetails"][0]["expression"] == "$transaction_model_insightscore <= 750"
        assert res["ruleDetails"][0]["outcomes"][0] == "approve"

        # -- check AUC --
        fpr, tpr, threshold = roc_curve(predictions[LABEL_COL], predictions["score"])
        test_auc = auc(fpr, tpr)
        # (skipped: the plot of the ROC curve)
        print(f"AUC: {test_auc:.3f}")
        assert test_auc > 0.6

        # -- check outcome summary --
        predictions["outcomes"] = predictions["outcomes"].astype(str)
        pred_summary = (
            predictions.groupby(["outcomes"])["score"].agg(["mean", "count"]).reset_index()
        )
        pred_summary["pct_total"] = pred_summary["count"] / predictions.shape[0]
        print(pred_summary)
        assert pred_summary["count"].sum() == len(predictions)

        # -- check confusion matrix -- (the crosstabs of model_confusion_matrix; its
        # seaborn heatmaps are skipped)
        print("Confusion Matrix by Outcomes:")
        confusion_matrix = pd.crosstab(
            predictions[LABEL_COL],
            predictions["outcomes"].astype(str),
            margins=True,
            rownames=["Actual"],
            colnames=["Predicted"],
        )
        confusion_matrix_pct = pd.crosstab(
            predictions[LABEL_COL],
            predictions["outcomes"].astype(str),
            normalize="all",
            margins=True,
            rownames=["Actual"],
            colnames=["Predicted"],
        ).round(3)
        print(confusion_matrix)
        print(confusion_matrix_pct)
        assert confusion_matrix.loc["All", "All"] == len(predictions)
