"""The template reader: short tags as data, the SAM transform, typed views, local values for intrinsics."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from devstack.template import (
    DEFAULT_TEMPLATE,
    CfnLoader,
    Cors,
    Route,
    Template,
    Throttling,
    load_template,
)

SMALL = """
Parameters:
  Stage: {Type: String, Default: dev}
  Origins: {Type: CommaDelimitedList, Default: "https://a.example,https://b.example"}
  CacheSeconds: {Type: Number, Default: 60}
  Rate: {Type: Number, Default: 5}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 9
    Layers: [!Ref Shared]
    Environment:
      Variables:
        SHARED: !Ref Stage
        TABLE: !Ref Notes
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layers/shared/}
  Notes:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "notes-${Stage}"
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Creds:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: '{"k": "v"}'
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefaultRouteSettings: {ThrottlingRateLimit: !Ref Rate, ThrottlingBurstLimit: 10}
      CorsConfiguration:
        AllowOrigins: !Ref Origins
        AllowHeaders: [Authorization]
        AllowMethods: [get, post]
        MaxAge: 60
      Auth:
        DefaultAuthorizer: Keys
        Authorizers:
          Keys:
            FunctionArn: !GetAtt Guard.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
              ReauthorizeEvery: !Ref CacheSeconds
  Guard:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fns/guard/, Handler: app.handler}
  Notebook:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/notebook
      Handler: main.run
      MemorySize: 512
      Environment:
        Variables:
          OWN: !GetAtt Flow.Arn
          PROD: !If [IsProd, "yes", "no"]
          DROPPED: !If [IsProd, "x", !Ref AWS::NoValue]
      Events:
        List:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /notes, Method: get, Auth: {Authorizer: NONE}}
        Read:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/notes/{id}", Method: GET}
        Other: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: flow.asl.json
      DefinitionSubstitutions:
        TargetArn: !GetAtt Notebook.Arn
        Secret: !Ref Creds
"""


@pytest.fixture
def small(tmp_path: Path) -> Template:
    (tmp_path / "template.yaml").write_text(SMALL)
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "${TargetArn}", "End": True}},
        "Comment": "${Secret}",
    }
    (tmp_path / "flow.asl.json").write_text(json.dumps(definition))
    return load_template(tmp_path / "template.yaml")


def test_short_tags_load_as_their_json_forms() -> None:
    text = "a: !Ref X\nb: !GetAtt Fn.Arn\nc: !Sub 'x-${Y}'\nd: !Join [',', [p, !Ref Z]]\ne: !If [C, 1, 2]\n"

    loaded = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - a SafeLoader

    assert loaded == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["Fn", "Arn"]},
        "c": {"Fn::Sub": "x-${Y}"},
        "d": {"Fn::Join": [",", ["p", {"Ref": "Z"}]]},
        "e": {"Fn::If": ["C", 1, 2]},
    }


def test_parameters_expose_their_defaults_as_strings(small: Template) -> None:
    assert small.parameters["CacheSeconds"].default == "60"
    assert small.parameters["Origins"].type == "CommaDelimitedList"


def test_functions_merge_globals_with_their_own_settings(small: Template, tmp_path: Path) -> None:
    fn = small.functions()["Notebook"]

    assert fn.code_uri == tmp_path / "fns" / "notebook"
    assert fn.handler == "main.run"
    assert (fn.timeout, fn.memory_size) == (9, 512)
    assert fn.environment == {
        "SHARED": "dev",
        "TABLE": "notes-dev",
        "OWN": "arn:aws:states:us-east-1:123456789012:stateMachine:Flow",
        "PROD": "no",  # Fn::If on a condition; DROPPED is AWS::NoValue, so absent
    }
    assert fn.arn == "arn:aws:lambda:us-east-1:123456789012:function:Notebook"


def test_parameter_values_override_defaults_everywhere(small: Template) -> None:
    resolver = small.resolver(parameters={"Stage": "prod"})

    env = small.functions(resolver)["Notebook"].environment

    assert (env["SHARED"], env["TABLE"], env["PROD"], env["DROPPED"]) == ("prod", "notes-prod", "yes", "x")


def test_an_unknown_parameter_is_refused_rather_than_ignored(small: Template) -> None:
    with pytest.raises(ValueError, match="Stagee"):
        small.resolver(parameters={"Stagee": "prod"})


def test_routes_come_from_httpapi_events_with_the_default_authorizer_or_none(small: Template) -> None:
    api = small.http_api()

    assert api.routes == (
        Route("GET", "/notes", "Notebook", None),
        Route("GET", "/notes/{id}", "Notebook", "Keys"),
    )
    assert api.routes[1].route_key == "GET /notes/{id}"


def test_authorizers_name_their_function_identity_sources_and_cache_ttl(small: Template) -> None:
    keys = small.http_api().authorizers["Keys"]

    assert keys.function == "Guard"
    assert keys.identity_headers == ("Authorization",)
    assert keys.reauthorize_every == 60
    assert keys.simple_responses is True


def test_cors_and_throttling_resolve_parameters(small: Template) -> None:
    api = small.http_api(small.resolver(parameters={"Rate": 7}))

    assert api.cors == Cors(
        ("https://a.example", "https://b.example"), ("authorization",), ("GET", "POST"), max_age=60
    )
    assert api.throttling == Throttling(rate_limit=7.0, burst_limit=10)


def test_the_transform_sees_the_parameter_values_the_resolver_is_given(small: Template) -> None:
    # SAM resolves CorsConfiguration itself, at transform time.
    api = small.http_api(small.resolver(parameters={"Origins": "https://c.example"}))

    assert api.cors is not None
    assert api.cors.allow_origins == ("https://c.example",)


def test_physical_names_are_the_template_names_or_logical_ids(small: Template) -> None:
    resolver = small.resolver()

    assert small.tables()["Notes"].name == "notes-dev"
    assert resolver.ref("Guard") == "Guard"
    assert resolver.ref("Creds") == "arn:aws:secretsmanager:us-east-1:123456789012:secret:Creds"
    assert resolver.get_att("Flow", "Name") == "Flow"
    assert (
        resolver.resolve({"Fn::GetAtt": ["Notes", "Arn"]})
        == "arn:aws:dynamodb:us-east-1:123456789012:table/notes-dev"
    )


def test_sub_replaces_parameters_pseudo_parameters_attributes_and_keeps_escapes(small: Template) -> None:
    text = "${Stage}/${AWS::Region}/${Guard.Arn}/${!Literal}/${Extra}"

    value = small.resolver().resolve({"Fn::Sub": [text, {"Extra": {"Ref": "Notes"}}]})

    assert value == "dev/us-east-1/arn:aws:lambda:us-east-1:123456789012:function:Guard/${Literal}/notes-dev"


def test_refs_known_only_after_creation_override_the_local_guess(small: Template) -> None:
    resolver = small.resolver().with_refs(
        {"Creds": "arn:aws:secretsmanager:us-east-1:123456789012:secret:Creds-AbCdEf"}
    )

    machine = small.state_machines(resolver)["Flow"]

    assert json.loads(machine.definition)["Comment"].endswith("Creds-AbCdEf")


def test_state_machine_definitions_get_their_substitutions(small: Template) -> None:
    machine = small.state_machines()["Flow"]

    definition = json.loads(machine.definition)
    assert definition["States"]["T"]["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:Notebook"
    assert machine.arn == "arn:aws:states:us-east-1:123456789012:stateMachine:Flow"
    assert machine.type == "STANDARD"


def test_views_read_the_cloudformation_the_transform_makes(small: Template, tmp_path: Path) -> None:
    assert small.resource_type("Notebook") == "AWS::Lambda::Function"
    assert small.resource_type("NotebookRole") == "AWS::IAM::Role"  # the execution role SAM makes
    assert small.state_machines()["Flow"].role_arn == "arn:aws:iam::123456789012:role/FlowRole"
    # The layer's logical id gets a hash; the functions' Layers follow it.
    [layer] = small.logical_ids("AWS::Lambda::LayerVersion")
    assert small.properties("Notebook")["Layers"] == [{"Ref": layer}]
    assert small.layer_dirs() == [tmp_path / "layers" / "shared"]
    assert small.resolver().ref(layer) == "arn:aws:lambda:us-east-1:123456789012:layer:Shared:1"


def test_a_template_sam_refuses_is_refused_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: app.handler}\n"
    )

    with pytest.raises(ValueError, match="Runtime and Handler needs to be present"):
        load_template(tmp_path / "template.yaml").functions()


IMPLICIT = """
Globals:
  Function:
    Runtime: python3.12
    CodeUri: fns/
  HttpApi:
    CorsConfiguration: true
    DefaultRouteSettings: {ThrottlingBurstLimit: 4}
    Auth:
      DefaultAuthorizer: Keys
      Authorizers:
        Keys:
          FunctionArn: !GetAtt Guard.Arn
          AuthorizerPayloadFormatVersion: "2.0"
          Identity: {Headers: [X-Key], QueryStrings: [key]}
Resources:
  Guard:
    Type: AWS::Serverless::Function
    Properties: {Handler: guard.handler}
  Notebook:
    Type: AWS::Serverless::Function
    Properties:
      Handler: notebook.handler
      Events:
        Fallback: {Type: HttpApi}
        Notes: {Type: HttpApi, Properties: {Path: /notes, Method: any}}
        Health: {Type: HttpApi, Properties: {Path: /health, Method: get, Auth: {Authorizer: NONE}}}
"""


def test_events_without_an_api_make_the_implicit_api_with_the_httpapi_globals(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(IMPLICIT)
    template = load_template(tmp_path / "template.yaml")

    api = template.http_api()

    assert api.logical_id == "ServerlessHttpApi"
    assert api.routes == (
        Route("ANY", "$default", "Notebook", "Keys"),
        Route("GET", "/health", "Notebook", None),
        Route("ANY", "/notes", "Notebook", "Keys"),
    )
    keys = api.authorizers["Keys"]
    assert (keys.function, keys.identity_headers, keys.identity_query_strings) == (
        "Guard",
        ("X-Key",),
        ("key",),
    )
    assert keys.reauthorize_every == 300  # API Gateway's default when there is an identity source
    assert keys.simple_responses is False
    assert api.cors == Cors(allow_origins=("*",), allow_headers=(), allow_methods=())  # SAM's `true`
    assert api.throttling == Throttling(rate_limit=4.0, burst_limit=4)
    assert template.functions()["Guard"].code_uri == tmp_path / "fns"  # CodeUri from Globals


PROVIDER_SECRETS = """
Globals:
  Function: {Runtime: python3.12}
Resources:
  JekimoSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "${AWS::StackName}/providers/jekimo"
      SecretString: '{"api_key": "REPLACE_ME"}'
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/api/
      Handler: app.handler
      Environment:
        Variables:
          JEKIMO_SECRET_NAME: !Ref JekimoSecret
      Policies:
        - AWSSecretsManagerGetSecretValuePolicy:
            SecretArn: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:\
${AWS::StackName}/providers/*"
"""


def test_secrets_named_after_the_stack_and_policies_on_them_translate_and_resolve(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(PROVIDER_SECRETS)
    template = load_template(tmp_path / "template.yaml")
    resolver = template.resolver(stack_name="idgate-test")

    secret = template.secrets(resolver)["JekimoSecret"]
    env = template.functions(resolver)["ApiFunction"].environment
    role = resolver.resolve(resolver.properties("ApiFunctionRole"))

    assert secret.name == "idgate-test/providers/jekimo"
    assert env["JEKIMO_SECRET_NAME"] == resolver.arn("JekimoSecret")
    assert resolver.arn("JekimoSecret").endswith(":123456789012:secret:idgate-test/providers/jekimo")
    [statement] = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert (
        statement["Resource"]
        == "arn:aws:secretsmanager:us-east-1:123456789012:secret:idgate-test/providers/*"
    )


def test_functions_are_found_by_name_arn_or_qualified_arn(small: Template) -> None:
    resolver = small.resolver()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Notebook"

    found = [resolver.function_logical_id(n) for n in ("Notebook", arn, f"{arn}:$LATEST", "Nope")]

    assert found == ["Notebook", "Notebook", "Notebook", None]


def test_secrets_carry_their_secret_string(small: Template) -> None:
    assert small.secrets()["Creds"].secret_string == '{"k": "v"}'


def test_the_real_template_gives_every_view() -> None:
    template = load_template(DEFAULT_TEMPLATE)
    functions = template.functions()
    api = template.http_api()

    assert api.routes, "the API has routes"
    assert {r.function for r in api.routes} <= set(functions)
    assert {a.function for a in api.authorizers.values()} <= set(functions)
    assert all(f.code_uri.is_dir() for f in functions.values())
    for table in template.tables().values():  # verbatim, so tables built from here match the template
        assert table.properties == template.document["Resources"][table.logical_id]["Properties"]
    for machine in template.state_machines().values():
        assert "${" not in machine.definition
        json.loads(machine.definition)


def test_a_function_and_route_added_to_the_template_need_no_devstack_change() -> None:
    real = load_template(DEFAULT_TEMPLATE)
    document = copy.deepcopy(dict(real.document))
    event = {"ApiId": {"Ref": "HttpApi"}, "Path": "/v1/reports/{id}", "Method": "GET"}
    document["Resources"]["ReportsFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": "functions/reports/",
            "Handler": "app.handler",
            "Events": {"Get": {"Type": "HttpApi", "Properties": event}},
        },
    }
    template = Template(document, real.directory)

    assert "ReportsFunction" in template.functions()
    reports = [r for r in template.http_api().routes if r.function == "ReportsFunction"]
    default = real.document["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"]
    assert reports == [Route("GET", "/v1/reports/{id}", "ReportsFunction", default)]
