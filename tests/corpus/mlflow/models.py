# Transcribed from MLflow (Apache-2.0), https://github.com/mlflow/mlflow
#   mlflow/store/tracking/dbmodels/models.py  @ 0fdcfad8403fe1041adb8252d4a287d5c14a4395
#   mlflow/store/db/base_sql_model.py         @ 96ee0487202882262b5c4cd0aa97c3b9f858f8b1
# Only the schema is kept: relationships, __repr__/to_mlflow_entity and other methods are left out.
import time

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UnicodeText,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base

# mlflow/store/db/base_sql_model.py
Base = declarative_base()


# adapted: mlflow.utils.time.get_current_time_millis, defined here so the module stands alone.
def get_current_time_millis():
    return int(time.time() * 1000)


# adapted: the values of mlflow.entities.SourceType / RunStatus / LifecycleStage, inlined
# (SourceType.to_string(...), RunStatus.to_string(...), LifecycleStage.ACTIVE and
# LifecycleStage.view_type_to_stages(ViewType.ALL) in the original).
SourceTypes = ["NOTEBOOK", "JOB", "LOCAL", "UNKNOWN", "PROJECT"]

RunStatusTypes = ["SCHEDULED", "FAILED", "FINISHED", "RUNNING", "KILLED"]

LIFECYCLE_STAGE_ACTIVE = "active"
ALL_LIFECYCLE_STAGES = ["active", "deleted"]


class SqlExperiment(Base):
    __tablename__ = "experiments"

    experiment_id = Column(Integer, autoincrement=True)
    name = Column(String(256), unique=True, nullable=False)
    artifact_location = Column(String(256), nullable=True)
    lifecycle_stage = Column(String(32), default=LIFECYCLE_STAGE_ACTIVE)
    creation_time = Column(BigInteger(), default=get_current_time_millis)
    last_update_time = Column(BigInteger(), default=get_current_time_millis)

    __table_args__ = (
        CheckConstraint(
            lifecycle_stage.in_(ALL_LIFECYCLE_STAGES),
            name="experiments_lifecycle_stage",
        ),
        PrimaryKeyConstraint("experiment_id", name="experiment_pk"),
    )


class SqlRun(Base):
    __tablename__ = "runs"

    run_uuid = Column(String(32), nullable=False)
    name = Column(String(250))
    source_type = Column(String(20), default="LOCAL")
    source_name = Column(String(500))
    entry_point_name = Column(String(50))
    user_id = Column(String(256), nullable=True, default=None)
    status = Column(String(20), default="SCHEDULED")
    start_time = Column(BigInteger, default=get_current_time_millis)
    end_time = Column(BigInteger, nullable=True, default=None)
    deleted_time = Column(BigInteger, nullable=True, default=None)
    source_version = Column(String(50))
    lifecycle_stage = Column(String(20), default=LIFECYCLE_STAGE_ACTIVE)
    artifact_uri = Column(String(200), default=None)
    experiment_id = Column(Integer, ForeignKey("experiments.experiment_id"))

    __table_args__ = (
        CheckConstraint(source_type.in_(SourceTypes), name="source_type"),
        CheckConstraint(status.in_(RunStatusTypes), name="status"),
        CheckConstraint(
            lifecycle_stage.in_(ALL_LIFECYCLE_STAGES),
            name="runs_lifecycle_stage",
        ),
        PrimaryKeyConstraint("run_uuid", name="run_pk"),
    )


class SqlExperimentTag(Base):
    __tablename__ = "experiment_tags"

    key = Column(String(250))
    value = Column(String(5000), nullable=True)
    experiment_id = Column(Integer, ForeignKey("experiments.experiment_id"))

    __table_args__ = (PrimaryKeyConstraint("key", "experiment_id", name="experiment_tag_pk"),)


class SqlTag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        PrimaryKeyConstraint("key", "run_uuid", name="tag_pk"),
        Index(f"index_{__tablename__}_run_uuid", "run_uuid"),
    )

    key = Column(String(250))
    value = Column(String(8000), nullable=True)
    run_uuid = Column(String(32), ForeignKey("runs.run_uuid"))


class SqlMetric(Base):
    __tablename__ = "metrics"
    __table_args__ = (
        PrimaryKeyConstraint(
            "key", "timestamp", "step", "run_uuid", "value", "is_nan", name="metric_pk"
        ),
        Index(f"index_{__tablename__}_run_uuid", "run_uuid"),
    )

    key = Column(String(250))
    value = Column(sa.types.Float(precision=53), nullable=False)
    timestamp = Column(BigInteger, default=get_current_time_millis)
    step = Column(BigInteger, default=0, nullable=False)
    is_nan = Column(Boolean(create_constraint=True), nullable=False, default=False)
    run_uuid = Column(String(32), ForeignKey("runs.run_uuid"))


class SqlLatestMetric(Base):
    __tablename__ = "latest_metrics"
    __table_args__ = (
        PrimaryKeyConstraint("key", "run_uuid", name="latest_metric_pk"),
        Index(f"index_{__tablename__}_run_uuid", "run_uuid"),
    )

    key = Column(String(250))
    value = Column(sa.types.Float(precision=53), nullable=False)
    timestamp = Column(BigInteger, default=get_current_time_millis)
    step = Column(BigInteger, default=0, nullable=False)
    is_nan = Column(Boolean(create_constraint=True), nullable=False, default=False)
    run_uuid = Column(String(32), ForeignKey("runs.run_uuid"))


class SqlParam(Base):
    __tablename__ = "params"
    __table_args__ = (
        PrimaryKeyConstraint("key", "run_uuid", name="param_pk"),
        Index(f"index_{__tablename__}_run_uuid", "run_uuid"),
    )

    key = Column(String(250))
    value = Column(String(8000), nullable=False)
    run_uuid = Column(String(32), ForeignKey("runs.run_uuid"))


class SqlDataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        PrimaryKeyConstraint("experiment_id", "name", "digest", name="dataset_pk"),
        Index(f"index_{__tablename__}_dataset_uuid", "dataset_uuid"),
        Index(
            f"index_{__tablename__}_experiment_id_dataset_source_type",
            "experiment_id",
            "dataset_source_type",
        ),
    )

    dataset_uuid = Column(String(36), nullable=False)
    experiment_id = Column(Integer, ForeignKey("experiments.experiment_id", ondelete="CASCADE"))
    name = Column(String(500), nullable=False)
    digest = Column(String(36), nullable=False)
    dataset_source_type = Column(String(36), nullable=False)
    dataset_source = Column(UnicodeText, nullable=False)
    dataset_schema = Column(UnicodeText, nullable=True)
    dataset_profile = Column(UnicodeText, nullable=True)


class SqlInput(Base):
    __tablename__ = "inputs"
    __table_args__ = (
        PrimaryKeyConstraint(
            "source_type", "source_id", "destination_type", "destination_id", name="inputs_pk"
        ),
        Index(f"index_{__tablename__}_input_uuid", "input_uuid"),
        Index(
            f"index_{__tablename__}_destination_type_destination_id_source_type",
            "destination_type",
            "destination_id",
            "source_type",
        ),
        # adapted: not in the model at this commit. input_tags.input_uuid references
        # inputs.input_uuid, which PostgreSQL accepts only when that column is unique (MySQL and
        # SQLite do not insist); MLflow later added exactly this constraint in migration
        # 9eae7ec868c3_add_unique_constraint_to_input_uuid.py.
        UniqueConstraint("input_uuid", name="uq_inputs_input_uuid"),
    )

    input_uuid = Column(String(36), nullable=False)
    source_type = Column(String(36), nullable=False)
    source_id = Column(String(36), nullable=False)
    destination_type = Column(String(36), nullable=False)
    destination_id = Column(String(36), nullable=False)
    step = Column(BigInteger, nullable=False, server_default="0")


class SqlInputTag(Base):
    __tablename__ = "input_tags"
    __table_args__ = (PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),)

    input_uuid = Column(String(36), ForeignKey("inputs.input_uuid"), nullable=False)
    name = Column(String(255), nullable=False)
    value = Column(String(500), nullable=False)


#######################################################################################
# Below are Tracing models. We may refactor them to be in a separate module in the future.
#######################################################################################


class SqlTraceInfo(Base):
    __tablename__ = "trace_info"

    request_id = Column(String(50), nullable=False)
    experiment_id = Column(Integer, ForeignKey("experiments.experiment_id"), nullable=False)
    timestamp_ms = Column(BigInteger, nullable=False)
    execution_time_ms = Column(BigInteger, nullable=True)
    status = Column(String(50), nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("request_id", name="trace_info_pk"),
        # The most frequent query will be get all traces in an experiment sorted by timestamp desc,
        # which is the default view in the UI. Also every search query should have experiment_id(s)
        # in the where clause.
        Index(f"index_{__tablename__}_experiment_id_timestamp_ms", "experiment_id", "timestamp_ms"),
    )


class SqlTraceTag(Base):
    __tablename__ = "trace_tags"

    key = Column(String(250))
    value = Column(String(8000), nullable=True)
    request_id = Column(
        String(50), ForeignKey("trace_info.request_id", ondelete="CASCADE"), nullable=False
    )

    # Key is unique within a request_id
    __table_args__ = (
        PrimaryKeyConstraint("request_id", "key", name="trace_tag_pk"),
        # adapted: the original is Index(f"index_{__tablename__}_request_id") with no column,
        # which create_all() renders as "CREATE INDEX ... ON trace_tags ()" and every database
        # rejects; MLflow creates this table through migration 867495a8f9d4, which indexes
        # "request_id", so that column is named here.
        Index(f"index_{__tablename__}_request_id", "request_id"),
    )


class SqlTraceRequestMetadata(Base):
    __tablename__ = "trace_request_metadata"

    key = Column(String(250))
    value = Column(String(8000), nullable=True)
    request_id = Column(
        String(50), ForeignKey("trace_info.request_id", ondelete="CASCADE"), nullable=False
    )

    # Key is unique within a request_id
    __table_args__ = (
        PrimaryKeyConstraint("request_id", "key", name="trace_request_metadata_pk"),
        # adapted: as for trace_tags, the original Index names no column.
        Index(f"index_{__tablename__}_request_id", "request_id"),
    )


class SqlLoggedModel(Base):
    __tablename__ = "logged_models"

    model_id = Column(String(36), nullable=False)
    experiment_id = Column(Integer, nullable=False)
    name = Column(String(500), nullable=False)
    artifact_location = Column(String(1000), nullable=False)
    creation_timestamp_ms = Column(BigInteger, nullable=False)
    last_updated_timestamp_ms = Column(BigInteger, nullable=False)
    status = Column(Integer, nullable=False)
    lifecycle_stage = Column(String(32), default=LIFECYCLE_STAGE_ACTIVE)
    model_type = Column(String(500), nullable=True)
    source_run_id = Column(String(32), nullable=True)
    status_message = Column(String(1000), nullable=True)

    __table_args__ = (
        PrimaryKeyConstraint("model_id", name="logged_models_pk"),
        CheckConstraint(
            lifecycle_stage.in_(ALL_LIFECYCLE_STAGES),
            name="logged_models_lifecycle_stage_check",
        ),
        ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            ondelete="CASCADE",
            name="fk_logged_models_experiment_id",
        ),
    )


class SqlLoggedModelMetric(Base):
    __tablename__ = "logged_model_metrics"

    model_id = Column(String(36), nullable=False)
    metric_name = Column(String(500), nullable=False)
    metric_timestamp_ms = Column(BigInteger, nullable=False)
    metric_step = Column(BigInteger, nullable=False)
    metric_value = Column(sa.types.Float(precision=53), nullable=True)
    experiment_id = Column(Integer, nullable=False)
    run_id = Column(String(32), nullable=False)
    dataset_uuid = Column(String(36), nullable=True)
    dataset_name = Column(String(500), nullable=True)
    dataset_digest = Column(String(36), nullable=True)

    __table_args__ = (
        PrimaryKeyConstraint(
            "model_id",
            "metric_name",
            "metric_timestamp_ms",
            "metric_step",
            "run_id",
            name="logged_model_metrics_pk",
        ),
        ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.model_id"],
            ondelete="CASCADE",
            name="fk_logged_model_metrics_model_id",
        ),
        ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_logged_model_metrics_experiment_id",
        ),
        ForeignKeyConstraint(
            ["run_id"],
            ["runs.run_uuid"],
            ondelete="CASCADE",
            name="fk_logged_model_metrics_run_id",
        ),
        Index("index_logged_model_metrics_model_id", "model_id"),
    )


class SqlLoggedModelParam(Base):
    __tablename__ = "logged_model_params"

    model_id = Column(String(36), nullable=False)
    experiment_id = Column(Integer, nullable=False)
    param_key = Column(String(255), nullable=False)
    param_value = Column(Text(), nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint(
            "model_id",
            "param_key",
            name="logged_model_params_pk",
        ),
        ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.model_id"],
            name="fk_logged_model_params_model_id",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_logged_model_params_experiment_id",
        ),
    )


class SqlLoggedModelTag(Base):
    __tablename__ = "logged_model_tags"

    model_id = Column(String(36), nullable=False)
    experiment_id = Column(Integer, nullable=False)
    tag_key = Column(String(255), nullable=False)
    tag_value = Column(Text(), nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint(
            "model_id",
            "tag_key",
            name="logged_model_tags_pk",
        ),
        ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.model_id"],
            name="fk_logged_model_tags_model_id",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_logged_model_tags_experiment_id",
        ),
    )
