"""The LLM gateway's routing: which endpoints a question goes to, by the routing rules."""

from __future__ import annotations

import pytest

from agent.llm.errors import NoLLMRouteError
from agent.llm.routing import Router
from agent.llm.settings import EndpointSettings, LLMSettings, RoutingRule, RoutingSettings
from tests.fixtures.llm_gateway import MESSAGES, GatewayFactory
from tests.fixtures.scripted_llm import Reply, ScriptedLLM, endpoint_for

ROUTING = RoutingSettings(
    rules=[
        RoutingRule(
            name="short_factual",
            max_words=8,
            exclude_terms=["why", "how", "compare", "difference between"],
            route=["cheap"],
        ),
        RoutingRule(name="greeting", require_terms=["hello", "thanks"], route=[]),
    ],
    default_route=["strong", "cheap"],
)


@pytest.mark.parametrize(
    ("question", "rule", "endpoints"),
    [
        ("What is the VPN port?", "short_factual", ("cheap",)),
        ("Why does the VPN drop?", "default", ("strong", "cheap")),
        ("What is the difference between VPN A and B?", "default", ("strong", "cheap")),
        ("What is the difference of A and B?", "short_factual", ("cheap",)),
        ("Hello there, could you walk me through every step of the setup?", "greeting", ()),
        (
            "What are all the steps to configure the VPN client on a new laptop?",
            "default",
            ("strong", "cheap"),
        ),
    ],
)
def test_routing_rules(question: str, rule: str, endpoints: tuple[str, ...]) -> None:
    route = Router(settings=ROUTING, endpoint_names=["strong", "cheap"]).route(question)
    assert (route.rule, route.endpoints) == (rule, endpoints)


def test_routed_question_goes_only_to_its_endpoints(
    primary: ScriptedLLM, secondary: ScriptedLLM, make_gateway: GatewayFactory
) -> None:
    secondary.script(Reply.answer("Port 443 [1]."))
    gateway = make_gateway(
        endpoint_for(primary, "strong"), endpoint_for(secondary, "cheap"), routing=ROUTING
    )

    route = gateway.route("What is the VPN port?")
    reply = gateway.chat(MESSAGES, user_key="u1", route=route)

    assert reply.endpoint == "cheap"
    assert primary.chat_requests == []
    assert "route: short_factual" in reply.notes
    with pytest.raises(NoLLMRouteError):
        gateway.chat(
            MESSAGES,
            user_key="u1",
            route=gateway.route("Hello, and thanks for all the help so far!"),
        )


def test_settings_reject_routes_to_unknown_endpoints() -> None:
    with pytest.raises(ValueError, match="unknown endpoints"):
        LLMSettings(
            endpoints=[EndpointSettings(name="a", base_url="http://127.0.0.1:1/v1", model="m")],
            routing=RoutingSettings(rules=[RoutingRule(name="r", route=["b"])]),
        )
