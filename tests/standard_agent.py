"""Test helpers: a trainee who follows the standard phrases, a rude one and a lazy one.

The standard replies come from the seed standards (seed 000 / 001); one reply policy per scenario.
"""

from __future__ import annotations

import itertools
import re

GREETING = "您好，{company}，请问有什么可以帮您？"
RUDE = ["你烦不烦啊！", "这是规定，我也没办法。", "有意见找领导去！"]
SOLUTIONS = [  # scenario -> the standard way to resolve it (first match wins)
    ("price", "很抱歉，服务中心不提供报价，您可以到就近门店或者咨询区域经理了解价格。"),
    ("confidential", "很抱歉，领导和经销商的联系方式不便透露，我已记录您的情况，会让负责人尽快与您联系。"),
    ("private-call", "您好，很抱歉！因公司规定上班时间不允许接听私人电话，请您其它时间再与她联系，或者我帮您转告。"),
    ("suggestion", "谢谢您，您提出的宝贵建议，我们将及时反馈给相关部门，再次感谢您的支持和关注。"),
    ("chat", "很抱歉，我马上为您联系仓库加急处理，24小时内给您回复。"),
    ("angry", "{address_as}，我马上为您登记加急，安排维修师傅今天下午两小时内上门。"),
    ("complaint", "对不起，给您添麻烦了，我会将您反映的问题如实上报主管，并尽快核实处理，给您带来的不便，请您原谅！"),
    ("", "{address_as}，我马上为您登记，安排维修师傅今天下午上门。"),
]


def fact_label(pattern: str) -> str:
    return re.sub(r"[^\w]", "", pattern.split("|")[0])


def standard_replies(persona) -> list[str]:
    """What a trainee following the standard says, in order, for this persona's scenarios."""
    s, a, company = set(persona.scenarios), persona.caller.address_as, persona.company
    greet = GREETING.format(company=company)
    bye = "感谢您的咨询，再见！" if persona.channel == "chat" else "感谢您的来电，请您先挂机，再见。"
    if "silent" in s:
        return [greet, "您好！请问有什么可以帮助您？", "对不起，您的电话没有声音，请您换一部电话再打来好吗？再见！"]
    if "nuisance" in s:
        return [greet, "您好，此电话为我公司客户服务热线，请您自行挂机，不要占用此热线，谢谢！",
                "您好，很抱歉，我将挂机。", "（挂机）"]
    if "wrong-number" in s:
        return [greet, f"您好，这里是{company}，请您查证后再拨。", "没关系，感谢您的来电，再见。"]
    if "noisy" in s:
        return [greet, "对不起，电话杂音太大，请您重新拨打一下好吗？", "好的，感谢您的来电，再见。"]
    replies = [greet]
    if "volume-complaint" in s:
        replies.append("非常抱歉！您看这样可以了吗？")
    if "low-volume" in s:
        replies.append("对不起，您的电话声音太小，请您大点声好吗？")
    if "dialect" in s:
        replies.append("对不起，您的方言我听不明白，请您讲普通话好吗？谢谢！")
    replies.append("非常抱歉给您添麻烦了，我理解您的心情，请问您贵姓？")
    for key, fact in persona.facts.items():
        if fact.reveal == "when_asked":
            replies.append(f"{a}，请问您的{fact_label(fact.ask_patterns[0])}是？")
    if "hold" in s:
        replies += ["请您稍等，我帮您查询一下。", "（保持）",
                    f"感谢您的耐心等待，{a}，查到了，多出的费用是因为上个月开通了来电显示功能，我可以帮您取消。"]
    else:
        solution = next(text for scen, text in SOLUTIONS if scen in s or not scen)
        replies.append(solution.format(address_as=a))
    replies += [f"{a}，请问您还有其他问题吗？", bye]
    return replies


def play(session, replies, limit=100):
    """Alternate caller and agent turns until the call ends; return the replies actually used."""
    used, replies = [], iter(replies)
    for _ in range(limit):
        "".join(session.caller_turn())
        if session.ended:
            break
        reply = next(replies, None)
        if reply is None:
            break
        used.append(reply)
        session.agent_turn(reply)
        if session.ended:
            break
    return used


def rude_replies(n=30):
    return list(itertools.islice(itertools.cycle(RUDE), n))


def lazy_replies(n=100):
    return ["嗯。"] * n
