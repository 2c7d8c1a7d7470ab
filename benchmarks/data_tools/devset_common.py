"""Shared pieces for the grading dev set: companies, a clean whole-call skeleton, case helpers.

The skeleton is a call a QA reviewer would pass on every step (opening, surname asked and used
twice, repeat-back of the caller's details, an explained answer, 还有其他问题吗, thanks and goodbye),
so a whole-call case can change one step and leave only that step at stake.
"""

from __future__ import annotations

S0 = "000_38188eab8a3aad00.txt"
S1 = "001_7a40c701cdd24f13.txt"
S2 = "002_dbf4bcf9b196fba5.txt"
S3 = "003_ce7e8b6d8796a706.txt"
S4 = "004_f19f12e0c170e4e4.txt"

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董"

COMPANIES = {
    "xh": {"name": "星海宽带",
           "reason": "我家宽带从昨天晚上开始就连不上网了。",
           "req": "{T}您好，麻烦您提供一下宽带的安装地址，我帮您查询一下。",
           "info": "东湖路18号3单元502。",
           "repeat": "好的，跟您核对一下，安装地址是东湖路18号3单元502，对吗？",
           "answer": "{T}，查到您所在的小区今天上午在做线路检修，预计下午六点前恢复，恢复后重启一下光猫就可以正常上网了。我这样说明您清楚吗？",
           "ack": "清楚了，那我晚上再试试。"},
    "aj": {"name": "安居物业",
           "reason": "我家卫生间天花板在漏水，应该是楼上渗下来的。",
           "req": "{T}您好，请问您家的具体房号是多少？",
           "info": "5栋2单元1101。",
           "repeat": "跟您核对一下，是5栋2单元1101，对吗？",
           "answer": "{T}，我已经为您登记了报修，维修师傅会在两个小时内联系您上门查看，我们也会联系楼上的业主配合检查。您看这样安排可以吗？",
           "ack": "可以，那我等师傅电话。"},
    "sd": {"name": "顺达快递",
           "reason": "我有个快递显示已经签收了，可是我根本没收到。",
           "req": "{T}您好，麻烦您提供一下运单号，我帮您查一下。",
           "info": "SD7720931845。",
           "repeat": "好的，跟您核对一下，运单号是SD7720931845，对吗？",
           "answer": "{T}，系统显示这个包裹今天上午放进了您小区门口的快递柜，取件码已经发到您的手机上，您查看一下短信就可以取件了。请问我刚才的说明您清楚吗？",
           "ack": "哦，原来在快递柜里，我去看看。"},
    "dx": {"name": "中国电信",
           "reason": "我这个月的话费怎么比平时多了三十多块？",
           "req": "{T}您好，请您提供一下需要查询的手机号码，好吗？",
           "info": "13307715826。",
           "repeat": "跟您核对一下，号码是133 0771 5826，对吗？",
           "answer": "{T}，查到您本月多出来的费用是国际漫游流量费，是本月5号在香港期间产生的，明细我已经通过短信发给您了。我这样解释您清楚吗？",
           "ack": "哦，那是出差时候用的，明白了。"},
    "cs": {"name": "诚实集团",
           "reason": "我上个月买的你们的净水器，现在出水特别慢。",
           "req": "{T}您好，请问您的安装地址是哪里？我帮您安排售后。",
           "info": "滨江区江南大道1024号。",
           "repeat": "好的，跟您核对一下，地址是滨江区江南大道1024号，对吗？",
           "answer": "{T}，出水慢一般是滤芯需要冲洗或者更换，我已经为您登记了上门服务，当地的售后师傅会在24小时内联系您预约时间。请问我刚才的解释您清楚吗？",
           "ack": "清楚了，那我等师傅联系。"},
    "ly": {"name": "绿源家电",
           "reason": "我家空调开了制冷，可是一直吹热风。",
           "req": "{T}您好，请您说一下空调的型号和安装地址，我帮您登记维修。",
           "info": "型号是KFR-35GW，地址是西湖区文一路77号。",
           "repeat": "好的，跟您核对一下，型号KFR-35GW，地址是西湖区文一路77号，对吗？",
           "answer": "{T}，这种情况多半需要师傅上门检测，我已经为您登记了维修，师傅会在今天下午五点前给您打电话约上门时间。我这样说明您清楚吗？",
           "ack": "清楚了，我等电话。"},
    "jh": {"name": "佳禾家居",
           "reason": "我在你们门店订的衣柜，柜门有一条裂缝。",
           "req": "{T}您好，请您提供一下订单上登记的手机号码，我帮您查一下订单。",
           "info": "15907316642。",
           "repeat": "跟您核对一下，手机号码是159 0731 6642，对吗？",
           "answer": "{T}，订单已经查到了，柜门的问题我们负责免费更换，新柜门大约七天到货，到货后安装师傅会提前一天和您约时间。请问我刚才的说明您清楚吗？",
           "ack": "清楚了，那就等到货吧。"},
}

SLOTS = ("open_c", "opening", "reason", "ask_name", "give_name", "req", "info", "repeat",
         "confirm", "answer", "ack", "ask_more", "no_more", "close")


def skeleton(co: str | None, over: dict) -> list:
    """The clean call as (slot, role, text); `over` replaces a slot's text, or with a list of
    (role, text) pairs expands it into several turns, or with None drops it."""
    c = COMPANIES[co or "xh"]
    name = c["name"] if co else ""
    base = {
        "open_c": ("caller", "（电话接通）"),
        "opening": ("agent", f"您好，{name}，请问有什么可以帮您？" if name
                    else "您好，客服中心，请问有什么可以帮您？"),
        "reason": ("caller", c["reason"]),
        "ask_name": ("agent", "好的，请问您贵姓？"),
        "give_name": ("caller", "我姓{S}。"),
        "req": ("agent", c["req"]),
        "info": ("caller", c["info"]),
        "repeat": ("agent", c["repeat"]),
        "confirm": ("caller", "对。"),
        "answer": ("agent", c["answer"]),
        "ack": ("caller", c["ack"]),
        "ask_more": ("agent", "请问您还有其他问题吗？"),
        "no_more": ("caller", "没有了。"),
        "close": ("agent", "好的，感谢您的来电，再见。"),
    }
    out = []
    for slot in SLOTS:
        if slot in over:
            value = over[slot]
            if value is None:
                continue
            if isinstance(value, list):
                for k, (role, text) in enumerate(value):
                    name_k = slot if k == len(value) - 1 else f"{slot}.{k}"
                    out.append((name_k, role, text))
                continue
            out.append((slot, base[slot][0], value))
        else:
            out.append((slot, *base[slot]))
    return out


def E(scn, label, co, turns, note, seed, chan="phone"):
    """An excerpt case: turns are 'C:…' caller, 'A:…' agent context, 'T:…' the judged agent turn;
    a (text, at) tuple adds a time."""
    return {"scn": scn, "label": label, "co": co, "turns": turns, "note": note, "seed": seed,
            "chan": chan}


def W(scn, label, co, note, seed, target="last", over=None, chan="phone", scope="turn",
      timing=None):
    """A whole-call case built on the skeleton; `target` is a slot name or 'last' agent turn."""
    return {"scn": scn, "label": label, "co": co, "note": note, "seed": seed, "whole": True,
            "target": target, "over": over or {}, "chan": chan, "scope": scope, "timing": timing}
