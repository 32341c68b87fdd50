"""The AWS side of the moto interop tests (tests/scenarios/moto.rs).

    python setup.py MOTO_URL SUFFIX
        Creates what a real account would have, in us-east-1: an IAM role Lambda can
        assume, a Kinesis stream `orders` (1 shard), an SQS queue `orders-retry`, a function
        `orders-fn-SUFFIX` (python3.12, index.handler), and two event source mappings from
        that function: the stream (LATEST) and the queue, both enabled. Prints one JSON line:
        {"function", "function_arn", "kinesis_uuid", "sqs_uuid", "kinesis_arn", "sqs_arn"}.

    python setup.py MOTO_URL horizons SUFFIX
        Sources with known horizons (for the prompt's horizon lines), all new and named
        after SUFFIX so a re-run against the same server does not collide: a Kinesis stream
        `orders-SUFFIX` with 48 h retention, an SQS queue `orders-retry-SUFFIX` with
        MessageRetentionPeriod 86400, a DynamoDB table `Orders-SUFFIX` with a stream
        (NEW_AND_OLD_IMAGES), and a Kinesis stream `clicks-SUFFIX` (24 h retention); and a
        function `orders-fn-SUFFIX` with one enabled mapping from each: the stream (LATEST),
        the queue, the table's stream (LATEST), and `clicks-SUFFIX` (LATEST,
        MaximumRecordAgeInSeconds 3600). Each setting is read back through boto3 before it
        is reported, so a moto that dropped one fails here, not in the test. Prints one JSON
        line: {"function", "function_arn", "kinesis_uuid", "kinesis_name", "sqs_uuid",
        "sqs_name", "dynamodb_uuid", "dynamodb_name", "capped_uuid", "capped_name"}.

    python setup.py MOTO_URL state UUID
        Prints the mapping's State as moto reports it (the independent check, like
        `aws lambda get-event-source-mapping --uuid UUID --query State`).

moto keeps its state for the life of the server and every test shares one server, so
each test passes its own SUFFIX and gets its own function (and so its own mappings). The
role, stream and queue are shared: they are created when missing and reused otherwise
(several functions reading one stream or queue is ordinary in AWS too), so the sources
keep the names people type (`orders`, `orders-retry`).
"""

import io
import json
import sys
import zipfile

import boto3

REGION = "us-east-1"

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

HANDLER = b"def handler(event, context):\n    return {'records': len(event.get('Records', []))}\n"


def client(service, url):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


def function_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.py", HANDLER)
    return buf.getvalue()


def role(iam):
    name = "orders-fn-role"
    try:
        return iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
        )["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def stream(kinesis, name="orders"):
    try:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    except kinesis.exceptions.ResourceInUseException:
        pass
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return kinesis.describe_stream_summary(StreamName=name)[
        "StreamDescriptionSummary"
    ]["StreamARN"]


def setup(url, suffix):
    iam = client("iam", url)
    kinesis = client("kinesis", url)
    sqs = client("sqs", url)
    lam = client("lambda", url)

    role_arn = role(iam)
    kinesis_arn = stream(kinesis)
    # CreateQueue with the same name and attributes returns the existing queue.
    queue_url = sqs.create_queue(QueueName="orders-retry")["QueueUrl"]
    sqs_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    function = f"orders-fn-{suffix}"
    function_arn = lam.create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Timeout=30,
    )["FunctionArn"]

    kinesis_uuid = lam.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=kinesis_arn,
        StartingPosition="LATEST",
        Enabled=True,
    )["UUID"]
    sqs_uuid = lam.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=sqs_arn,
        Enabled=True,
    )["UUID"]

    print(
        json.dumps(
            {
                "function": function,
                "function_arn": function_arn,
                "kinesis_uuid": kinesis_uuid,
                "sqs_uuid": sqs_uuid,
                "kinesis_arn": kinesis_arn,
                "sqs_arn": sqs_arn,
            }
        )
    )


def check(what, got, want):
    if got != want:
        sys.exit(f"moto did not keep {what}: it reports {got!r}, not {want!r}")


def horizons(url, suffix):
    iam = client("iam", url)
    kinesis = client("kinesis", url)
    sqs = client("sqs", url)
    dynamodb = client("dynamodb", url)
    lam = client("lambda", url)

    role_arn = role(iam)

    # Kinesis, 48 h: DescribeStreamSummary.RetentionPeriodHours is what lambda-pause reads.
    kinesis_name = f"orders-{suffix}"
    kinesis_arn = stream(kinesis, kinesis_name)
    summary = kinesis.describe_stream_summary(StreamName=kinesis_name)
    if summary["StreamDescriptionSummary"]["RetentionPeriodHours"] != 48:
        kinesis.increase_stream_retention_period(
            StreamName=kinesis_name, RetentionPeriodHours=48
        )
    check(
        f"{kinesis_name}'s RetentionPeriodHours",
        kinesis.describe_stream_summary(StreamName=kinesis_name)[
            "StreamDescriptionSummary"
        ]["RetentionPeriodHours"],
        48,
    )

    # SQS, 24 h (moto's default is AWS's, 4 days). Same name and attributes: the same queue.
    sqs_name = f"orders-retry-{suffix}"
    queue_url = sqs.create_queue(
        QueueName=sqs_name, Attributes={"MessageRetentionPeriod": "86400"}
    )["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn", "MessageRetentionPeriod"]
    )["Attributes"]
    check(
        f"{sqs_name}'s MessageRetentionPeriod",
        attributes["MessageRetentionPeriod"],
        "86400",
    )
    sqs_arn = attributes["QueueArn"]

    # DynamoDB with a stream: its horizon is the fixed 24 h, nothing to read.
    dynamodb_name = f"Orders-{suffix}"
    try:
        dynamodb.create_table(
            TableName=dynamodb_name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={
                "StreamEnabled": True,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        )
    except dynamodb.exceptions.ResourceInUseException:
        pass
    dynamodb.get_waiter("table_exists").wait(
        TableName=dynamodb_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    dynamodb_arn = dynamodb.describe_table(TableName=dynamodb_name)["Table"].get(
        "LatestStreamArn"
    )
    if not dynamodb_arn:
        sys.exit(f"moto reports no LatestStreamArn for {dynamodb_name}")

    # Kinesis, default 24 h, read by a mapping that drops records older than an hour.
    capped_name = f"clicks-{suffix}"
    capped_arn = stream(kinesis, capped_name)

    function = f"orders-fn-{suffix}"
    function_arn = lam.create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Timeout=30,
    )["FunctionArn"]

    def mapping(source_arn, **extra):
        return lam.create_event_source_mapping(
            FunctionName=function, EventSourceArn=source_arn, Enabled=True, **extra
        )["UUID"]

    kinesis_uuid = mapping(kinesis_arn, StartingPosition="LATEST")
    sqs_uuid = mapping(sqs_arn)
    dynamodb_uuid = mapping(dynamodb_arn, StartingPosition="LATEST")
    capped_uuid = mapping(
        capped_arn, StartingPosition="LATEST", MaximumRecordAgeInSeconds=3600
    )
    check(
        f"the {capped_name} mapping's MaximumRecordAgeInSeconds",
        lam.get_event_source_mapping(UUID=capped_uuid).get("MaximumRecordAgeInSeconds"),
        3600,
    )

    print(
        json.dumps(
            {
                "function": function,
                "function_arn": function_arn,
                "kinesis_uuid": kinesis_uuid,
                "kinesis_name": kinesis_name,
                "sqs_uuid": sqs_uuid,
                "sqs_name": sqs_name,
                "dynamodb_uuid": dynamodb_uuid,
                "dynamodb_name": dynamodb_name,
                "capped_uuid": capped_uuid,
                "capped_name": capped_name,
            }
        )
    )


def state(url, uuid):
    print(client("lambda", url).get_event_source_mapping(UUID=uuid)["State"])


def main(argv):
    if len(argv) == 3:
        setup(argv[1], argv[2])
    elif len(argv) == 4 and argv[2] == "state":
        state(argv[1], argv[3])
    elif len(argv) == 4 and argv[2] == "horizons":
        horizons(argv[1], argv[3])
    else:
        sys.exit(
            f"usage: {argv[0]} MOTO_URL SUFFIX | {argv[0]} MOTO_URL horizons SUFFIX"
            f" | {argv[0]} MOTO_URL state UUID"
        )


if __name__ == "__main__":
    main(sys.argv)
