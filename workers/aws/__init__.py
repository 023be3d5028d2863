"""AWS Lambda worker: ``escher.workers.aws.handler.handler`` (EventBridge, Scheduler, SQS redrive)."""
