"""Applies a Portcullis cloud plan to an AWS API (moto in the tests) with boto3, as the Pulumi AWS
provider would: IP sets, the web ACL, its associations, API Gateway stage throttling; then reads
everything back. Driven by test/cloud/moto.test.ts, one JSON command on stdin, JSON on stdout.

Commands:
  {"cmd": "gateway", "region", "stage", "resources"} -> an existing REST API + stage (the team's gateway)
  {"cmd": "throttle", "region", "methodSettings"}  -> stage throttling alone; the paths the API lacks
  {"cmd": "rule-group", "region", "group", "ipSets", "stageArn", "reference"}
                                                   -> attach: ruleGroup next to the team's own web ACL
  {"cmd": "apply", "region", "plan"}               -> create everything the plan says; read it back
  {"cmd": "stale-update", "region", "ipSet", "add"} -> update an IP set with a stale LockToken, then
                                                      handle WAFOptimisticLockException: fresh token, retry
"""
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]

# Plan fields use @pulumi/aws's camelCase; the WAFv2 API wants these names.
SPECIAL = {
    "arn": "ARN",
    "ipSetReferenceStatement": "IPSetReferenceStatement",
    "ipSetForwardedIpConfig": "IPSetForwardedIPConfig",
    "forwardedIpConfig": "ForwardedIPConfig",
    "cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled",
}


def api_shape(value):
    if isinstance(value, list):
        return [api_shape(v) for v in value]
    if isinstance(value, dict):
        return {SPECIAL.get(k, k[:1].upper() + k[1:]): api_shape(v) for k, v in value.items()}
    return value


def client(name, region):
    return boto3.client(name, region_name=region, endpoint_url=ENDPOINT,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def gateway(cmd):
    """A REST API with the given resources and methods, deployed to a stage."""
    apigw = client("apigateway", cmd["region"])
    api = apigw.create_rest_api(name="team-api")
    ids = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api["id"])["items"]}
    for resource in cmd["resources"]:
        path = ""
        for part in [p for p in resource["path"].split("/") if p]:
            parent, path = ids[path or "/"], f"{path}/{part}"
            if path not in ids:
                ids[path] = apigw.create_resource(restApiId=api["id"], parentId=parent, pathPart=part)["id"]
        apigw.put_method(restApiId=api["id"], resourceId=ids[path or "/"], httpMethod=resource["method"], authorizationType="NONE")
        apigw.put_integration(restApiId=api["id"], resourceId=ids[path or "/"], httpMethod=resource["method"], type="MOCK")
    apigw.create_deployment(restApiId=api["id"], stageName=cmd["stage"])
    return {"restApiId": api["id"]}


def resource_paths(apigw, rest_api_id):
    return {r["path"] for r in apigw.get_resources(restApiId=rest_api_id)["items"]}


def create_ip_sets(waf, ip_sets):
    """The plan's IP sets; returns a function putting their ARNs into statements (plan `ipSet` names)."""
    arns = {}
    for s in ip_sets:
        out = waf.create_ip_set(Name=s["name"], Scope=s["scope"], Description=s["description"],
                                IPAddressVersion=s["ipAddressVersion"], Addresses=s["addresses"])
        arns[s["name"]] = out["Summary"]["ARN"]

    def resolve(statement):
        if isinstance(statement, dict):
            if "ipSetReferenceStatement" in statement:
                ref = dict(statement["ipSetReferenceStatement"])
                ref["arn"] = arns[ref.pop("ipSet")]
                return {"ipSetReferenceStatement": ref}
            return {k: resolve(v) for k, v in statement.items()}
        if isinstance(statement, list):
            return [resolve(v) for v in statement]
        return statement

    return resolve


def api_rules(rules, resolve):
    return [api_shape({"name": r["name"], "priority": r["priority"], "action": r["action"],
                       "statement": resolve(r["statement"]), "visibilityConfig": r["visibilityConfig"]})
            for r in rules]


def bodies(plan_bodies):
    return {b["key"]: {"ContentType": b["contentType"], "Content": b["content"]} for b in plan_bodies}


def apply(cmd):
    region, plan = cmd["region"], cmd["plan"]
    waf, apigw = client("wafv2", region), client("apigateway", region)
    resolve = create_ip_sets(waf, plan["ipSets"])
    acl = plan["webAcl"]
    created = waf.create_web_acl(
        Name=acl["name"], Scope=acl["scope"], Description=acl["description"], DefaultAction={"Allow": {}},
        Rules=api_rules(acl["rules"], resolve), VisibilityConfig=api_shape(acl["visibilityConfig"]),
        CustomResponseBodies=bodies(acl["customResponseBodies"]))
    acl_arn = created["Summary"]["ARN"]
    for a in plan["associations"]:
        waf.associate_web_acl(WebACLArn=acl_arn, ResourceArn=a["resourceArn"])

    missing = throttle(apigw, plan["methodSettings"])
    return read_back(waf, apigw, plan, acl_arn, missing)


def throttle(apigw, settings):
    """Stage throttling only on resources the REST API has: the others are returned, never set silently."""
    missing = []
    for m in settings:
        resource = m["methodPath"].rsplit("/", 1)[0]
        path = "/" if resource in ("*", "~1") else resource.replace("~1", "/")
        if path not in resource_paths(apigw, m["restApiId"]):
            missing.append({"name": m["name"], "path": path})
            continue
        base = "/" + m["methodPath"]
        apigw.update_stage(restApiId=m["restApiId"], stageName=m["stageName"], patchOperations=[
            {"op": "replace", "path": base + "/throttling/rateLimit", "value": str(m["throttlingRateLimit"])},
            {"op": "replace", "path": base + "/throttling/burstLimit", "value": str(m["throttlingBurstLimit"])},
        ])
    return missing


def read_back(waf, apigw, plan, acl_arn, missing):
    acl_id = acl_arn.rsplit("/", 1)[1]
    got = waf.get_web_acl(Name=plan["webAcl"]["name"], Scope=plan["webAcl"]["scope"], Id=acl_id)["WebACL"]
    ip_sets = []
    for summary in waf.list_ip_sets(Scope=plan["webAcl"]["scope"])["IPSets"]:
        s = waf.get_ip_set(Name=summary["Name"], Scope=plan["webAcl"]["scope"], Id=summary["Id"])["IPSet"]
        ip_sets.append({"name": s["Name"], "version": s["IPAddressVersion"], "addresses": sorted(s["Addresses"])})
    associated = {}
    for a in plan["associations"]:
        acl = waf.get_web_acl_for_resource(ResourceArn=a["resourceArn"]).get("WebACL")
        associated[a["resourceArn"]] = acl["Name"] if acl else None
    stages = {}
    for m in plan["methodSettings"]:
        stage = apigw.get_stage(restApiId=m["restApiId"], stageName=m["stageName"])
        stages[m["stageName"]] = stage.get("methodSettings", {})
    rules = [{"name": r["Name"], "priority": r["Priority"], "action": r["Action"], "statement": r["Statement"]} for r in got["Rules"]]
    return {"webAcl": {"name": got["Name"], "arn": got["ARN"], "rules": rules,
                       "customResponseBodies": sorted(got.get("CustomResponseBodies", {}).keys())},
            "ipSets": sorted(ip_sets, key=lambda s: s["name"]), "associated": associated,
            "methodSettings": stages, "missingResources": missing}


def update_ip_set(waf, name, scope, add, token_of):
    """One update of an IP set under WAF's optimistic locking: on a stale LockToken, read a fresh one and retry (bounded)."""
    summary = next(s for s in waf.list_ip_sets(Scope=scope)["IPSets"] if s["Name"] == name)
    token, conflicts = token_of(summary), []
    for _ in range(3):
        current = waf.get_ip_set(Name=name, Scope=scope, Id=summary["Id"])["IPSet"]
        try:
            waf.update_ip_set(Name=name, Scope=scope, Id=summary["Id"], LockToken=token,
                              Addresses=sorted(set(current["Addresses"]) | set(add)))
            return {"conflicts": conflicts, "addresses": sorted(waf.get_ip_set(Name=name, Scope=scope, Id=summary["Id"])["IPSet"]["Addresses"])}
        except ClientError as e:
            if e.response["Error"]["Code"] != "WAFOptimisticLockException":
                raise
            conflicts.append(e.response["Error"]["Code"])
            token = waf.get_ip_set(Name=name, Scope=scope, Id=summary["Id"])["LockToken"]
    raise RuntimeError(f"IP set {name}: still conflicting after {len(conflicts)} attempts")


def stale_update(cmd):
    waf = client("wafv2", cmd["region"])
    scope, name = "REGIONAL", cmd["ipSet"]
    summary = next(s for s in waf.list_ip_sets(Scope=scope)["IPSets"] if s["Name"] == name)
    stale = waf.get_ip_set(Name=name, Scope=scope, Id=summary["Id"])["LockToken"]
    # Someone else (the console, another run) changes the set: our token is now stale.
    current = waf.get_ip_set(Name=name, Scope=scope, Id=summary["Id"])["IPSet"]
    waf.update_ip_set(Name=name, Scope=scope, Id=summary["Id"], LockToken=stale,
                      Addresses=sorted(set(current["Addresses"]) | {"198.18.0.0/15"}))
    return update_ip_set(waf, name, scope, cmd["add"], lambda _s: stale)


def rule_group(cmd):
    """attach: ruleGroup. The team's web ACL exists on its stage; Portcullis creates its rule group,
    and the one-time change adds the printed reference to the team's ACL (with its LockToken)."""
    region, group, stage_arn = cmd["region"], cmd["group"], cmd["stageArn"]
    waf = client("wafv2", region)
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "team-edge"}
    managed = {"Name": "team-bad-bots", "Priority": 10, "Action": {"Count": {}}, "VisibilityConfig": {**visibility, "MetricName": "team-bad-bots"},
               "Statement": {"ByteMatchStatement": {"FieldToMatch": {"SingleHeader": {"Name": "user-agent"}}, "PositionalConstraint": "CONTAINS",
                                                    "SearchString": "badbot", "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}}}
    team = waf.create_web_acl(Name="team-edge", Scope="REGIONAL", DefaultAction={"Allow": {}}, Rules=[managed], VisibilityConfig=visibility)["Summary"]
    waf.associate_web_acl(WebACLArn=team["ARN"], ResourceArn=stage_arn)

    resolve = create_ip_sets(waf, cmd["ipSets"])
    created = waf.create_rule_group(
        Name=group["name"], Scope=group["scope"], Capacity=group["capacity"], Description=group["description"],
        Rules=api_rules(group["rules"], resolve), VisibilityConfig=api_shape(group["visibilityConfig"]),
        CustomResponseBodies=bodies(group["customResponseBodies"]))["Summary"]

    current = waf.get_web_acl(Name="team-edge", Scope="REGIONAL", Id=team["Id"])
    reference = json.loads(json.dumps(cmd["reference"]).replace("__ARN__", created["ARN"]))
    waf.update_web_acl(Name="team-edge", Scope="REGIONAL", Id=team["Id"], DefaultAction={"Allow": {}},
                       Rules=[reference] + current["WebACL"]["Rules"], VisibilityConfig=visibility, LockToken=current["LockToken"])

    got_group = waf.get_rule_group(Name=group["name"], Scope=group["scope"], Id=created["Id"])["RuleGroup"]
    got_acl = waf.get_web_acl(Name="team-edge", Scope="REGIONAL", Id=team["Id"])["WebACL"]
    on_stage = waf.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]["Name"]
    return {"ruleGroup": {"arn": created["ARN"], "capacity": got_group["Capacity"], "rules": [r["Name"] for r in got_group["Rules"]],
                          "customResponseBodies": sorted(got_group.get("CustomResponseBodies", {}).keys())},
            "teamAcl": [{"name": r["Name"], "priority": r["Priority"], "statement": r["Statement"]} for r in got_acl["Rules"]],
            "onStage": on_stage}


def main():
    cmd = json.load(sys.stdin)
    handlers = {"gateway": gateway, "apply": apply, "stale-update": stale_update, "rule-group": rule_group,
                "throttle": lambda cmd: {"missing": throttle(client("apigateway", cmd["region"]), cmd["methodSettings"])}}
    json.dump(handlers[cmd["cmd"]](cmd), sys.stdout, default=str)


if __name__ == "__main__":
    main()
