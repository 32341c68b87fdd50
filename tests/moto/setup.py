"""The AWS side of the moto interop tests (tests/scenarios/moto.rs).

    python setup.py MOTO_URL SUFFIX
        Creates what a real account would have, in us-east-1: an IAM role Lambda can
        assume, a Kinesis stream `orders` (1 shard), an SQS queue `orders-retry`, a function
        `orders-fn-SUFFIX` (python3.12, index.handler), and two event source mappings from
        that function: the stream (LATEST) and the queue, both enabled. Prints one JSON line:
        {"function", "function_arn", "kinesis_uuid", "sqs_uuid", "kinesis_arn", "sqs_arn"}.

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


def stream(kinesis):
    name = "orders"
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


def state(url, uuid):
    print(client("lambda", url).get_event_source_mapping(UUID=uuid)["State"])


def main(argv):
    if len(argv) == 3:
        setup(argv[1], argv[2])
    elif len(argv) == 4 and argv[2] == "state":
        state(argv[1], argv[3])
    else:
        sys.exit(f"usage: {argv[0]} MOTO_URL SUFFIX | {argv[0]} MOTO_URL state UUID")


if __name__ == "__main__":
    main(sys.argv)
