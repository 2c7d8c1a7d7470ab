"""The prompt every model backend uses: a per-persona prefix, few-shot turns, then this turn's intent.

What works with small models (DESIGN.md): the engine decides the intent, the model only rewrites the
scripted line in character. Examples are given as chat turns (user: intent, assistant: line) and the
raw dialogue history is never put in the prompt (with it, small models parrot the agent). The system
message and the examples depend only on the persona, so backends keep their KV cache across turns.
"""

from __future__ import annotations

from .base import Intent

RULES = """规则：
1. 你是打电话进来的客户，不是客服。绝对不要说客服的话（比如"您好，请问有什么可以帮您""感谢您的来电""请稍等，我帮您查一下"）。
2. 每次只说一到两句简短的口语，像真人打电话，不超过四十个字。
3. 只说中文。不要说自己是AI、模型或助手，不要解释，不要加引号，不要加"客户："这样的前缀。
4. 把"参考台词"换成你自己的说法说出来，意思不变；不要照抄"要做的事"。
5. 不要编造资料里没有的账号、电话、地址或名字。"""

# Few-shot examples: (instruction, scripted line, mood, facts, a good in-character rewrite).
# They use a different company and no numbers, so nothing from them can leak into a real call.
FEW_SHOT = (
    ("说出你打电话的原因", "我家的热水器不出热水了。", 4, {},
     "喂，我家热水器今天一点热水都没有，你们给看看怎么回事吧。"),
    ("客服问了你的姓，告诉他", "我姓王。", 3, {"姓": "王"},
     "我姓王，王先生。"),
    ("你很生气，继续抱怨问题没解决", "都说了好几次了，怎么还没修好？", 8, {},
     "我都打了三回电话了，到现在还没人来修，你们到底管不管？"),
    ("客服道歉并给了办法，你稍微消气", "行吧，那你们快点处理。", 5, {},
     "那好吧，你们尽快安排，别再让我等了。"),
    ("问题解决了，道谢并说再见", "好的，谢谢，再见。", 2, {},
     "行，那就这样，谢谢你啊，再见。"),
)
EXAMPLE_LINES = tuple(ex[4] for ex in FEW_SHOT)


def mood_word(mood: int) -> str:
    if mood <= 2:
        return "平静"
    if mood <= 5:
        return "有点着急"
    if mood <= 7:
        return "不耐烦，有点生气"
    return "非常生气"


def persona_card(persona) -> str:
    """Who the caller is, in Chinese. Uses ``Persona.describe()`` when the persona has it."""
    if hasattr(persona, "describe"):
        return persona.describe()
    get = (lambda k, d="": persona.get(k, d)) if isinstance(persona, dict) else \
        (lambda k, d="": getattr(persona, k, d))
    return "\n".join(p for p in (f"你是{get('name', '一位客户')}，正在给{get('company', '客服热线')}打电话。",
                                 f"背景：{get('background')}" if get("background") else "",
                                 f"你的目的：{get('goal')}" if get("goal") else "",
                                 f"说话方式：{get('style')}" if get("style") else "") if p)


def persona_facts(persona) -> dict[str, str]:
    """All the persona's facts as key -> value text (values are what the caller may say)."""
    facts = persona.get("facts", {}) if isinstance(persona, dict) else getattr(persona, "facts", {}) or {}
    return {k: str(getattr(v, "value", v)) for k, v in facts.items()}


def turn_message(instruction: str, line: str, mood: int, facts: dict) -> str:
    parts = [f"要做的事：{instruction or '说下面这句话'}", f"参考台词：{line}", f"情绪：{mood_word(mood)}"]
    if facts:
        parts.append("可用资料：" + "；".join(f"{k}：{v}" for k, v in facts.items()))
    parts.append("只说你这一句：")
    return "\n".join(parts)


def prefix_messages(persona) -> list[dict]:
    """The part of the prompt that depends only on the persona (cacheable)."""
    msgs = [{"role": "system", "content": persona_card(persona) + "\n\n" + RULES}]
    for instruction, line, mood, facts, good in FEW_SHOT:
        msgs.append({"role": "user", "content": turn_message(instruction, line, mood, facts)})
        msgs.append({"role": "assistant", "content": good})
    return msgs


def intent_message(intent: Intent) -> dict:
    facts = {k: str(v) for k, v in (intent.facts or {}).items()}
    return {"role": "user", "content": turn_message(intent.instruction, intent.line, intent.mood, facts)}


def build_messages(persona, intent: Intent) -> list[dict]:
    """The whole chat for one caller line: prefix + this turn's intent. No dialogue history."""
    return prefix_messages(persona) + [intent_message(intent)]
