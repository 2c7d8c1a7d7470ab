"""Cases added with the grader fixes of the phenomena below, all pinned to the dev split (they were
written while the fixes were made, so they cannot measure how well the fixes generalise): wrong
numbers (the sentence a turn later; a garbled low-volume line is no wrong number), the festival
opening, soothing an angry caller who spoke before the greeting, 服务忌语 variants, callback time
limits, prices in Chinese numerals. Then, with the fixes from the second blind set: the caller who
stays on silently after the closing thanks (对不起，我挂线了), a progress check-in during a long hold, a
harassing caller answered with 线路故障请挂机, polite blame of the caller's phone, a dialect caller the
agent understood, 没办法 with a reason and another way, suggestions brushed off, 强词夺理 and other
blame or impatience, self-praise after a compliment, short numbers not repeated back, a one-line answer
to a why-question, a chat closed or ended with a bare 拜拜.
Labelled from the seed clauses named in each note."""

from devset_common import S0, S1, S2, S3, E, W

OK, BAD = "compliant", "violation"

# Whole calls of the wrong-number persona's shape: the caller speaks first, then the greeting.
WN_OPEN = "（电话接通）喂，张记饺子馆吗？我订个外卖。"
WN_REST = {k: None for k in ("req", "info", "repeat", "confirm", "answer", "ack", "ask_more", "no_more", "close")}
# The angry caller who speaks first.
ANGRY_OPEN = "（电话接通）喂！你们宽带到底还修不修了？三天了都没网！"


def dev(spec: dict) -> dict:
    spec["split"] = "dev"
    return spec


CASES = [dev(c) for c in [
    # --- wrong-number: 这里是XX，请您查证后再拨, said on a later turn --------------------------------
    W("wrong-number", OK, "xh", "客户先开口点外卖，接起电话的问候语本身不需回答打错电话（标准句在下一句）", S0,
      target="opening",
      over={"open_c": WN_OPEN, "opening": "您好，星海宽带客服中心。", "reason": "我要两斤猪肉白菜的饺子，送到幸福小区。",
            "ask_name": "您好，这里是星海宽带客服中心，请您查证后再拨，谢谢。", "give_name": "哎呀，不好意思，打错了。",
            **WN_REST}),
    W("wrong-number", OK, "xh", "问候之后的第一句回复说了标准句（000 2.1）", S0, target="ask_name",
      over={"open_c": WN_OPEN, "opening": "您好，星海宽带客服中心。", "reason": "我要两斤猪肉白菜的饺子，送到幸福小区。",
            "ask_name": "您好，这里是星海宽带客服中心，请您查证后再拨，谢谢。", "give_name": "哎呀，不好意思，打错了。",
            **WN_REST}),
    W("wrong-number", BAD, "xh", "问候之后的回复没有报单位、没有请客户查证后再拨", S0, target="ask_name",
      over={"open_c": WN_OPEN, "opening": "您好，星海宽带客服中心。", "reason": "我要两斤猪肉白菜的饺子，送到幸福小区。",
            "ask_name": "我们这里不卖饺子。", "give_name": "哦，那我再查查。", **WN_REST}),
    E("wrong-number", OK, "sd", ["A:您好，顺达快递，请问有什么可以帮您？", "C:喂，是牙科诊所吗？",
                                 "T:不好意思，请问您要找哪里？", "C:牙科诊所啊，我约明天补牙。",
                                 "A:您好，这里是顺达快递客服热线，不是诊所，请您查证后再拨，谢谢。"],
      "先确认客户要找哪里，下一句说了标准句，合规", S0),
    E("wrong-number", BAD, "sd", ["A:您好，顺达快递，请问有什么可以帮您？", "C:喂，是牙科诊所吗？",
                                  "A:请问您要找哪里？", "C:牙科诊所啊，我约明天补牙。",
                                  "T:不是，我们这是快递公司。"],
      "问清后仍没有请客户查证后再拨", S0),
    E("wrong-number", BAD, "cs", ["A:您好，诚实集团，请问有什么可以帮您？", "C:你好，是张老师家吗？",
                                  "A:您找哪位？", "C:张老师啊，我是他学生家长。", "T:这里没有张老师。"],
      "没有报出单位，也没有请客户查证后再拨", S0),

    # --- low-volume: a garbled 是……快递吗 on a courier's line is no wrong number -------------------
    E("low-volume", OK, "sd", ["A:您好，顺达快递，请问有什么可以帮您？", "C:（声音很小）喂……是……快递吗……我的……件……",
                               "T:对不起，您的电话声音太小，请您大点声好吗？"],
      "标准的声音太小处理用语；客户问的就是本公司（快递），不是打错电话", S0),
    E("low-volume", BAD, "sd", ["A:您好，顺达快递，请问有什么可以帮您？", "C:（声音很小）喂……是……快递吗……我的……件……",
                                "T:你说话大点声，听不见！"],
      "“你说话大点声”属禁忌用语", S0),

    # --- opening: 重要节日开头语 XX节快乐，很快乐为您服务 ------------------------------------------
    W("opening", OK, "xh", "000 重要节日开头语：新年好！很高兴为您服务", S0, target="opening",
      over={"opening": "新年好！很高兴为您服务，请问有什么可以帮您？"}),
    W("opening", OK, "ly", "节日祝福+公司+为您服务", S0, target="opening",
      over={"opening": "中秋节快乐，绿源家电很高兴为您服务！请问有什么可以帮您？"}),
    W("opening", BAD, "aj", "只说节日问候，没有自我介绍和询问（同只说“您好”）", S0, target="opening",
      over={"opening": "新年好！"}),
    W("opening", BAD, "sd", "节日问候后用“有什么事”生硬询问", S0, target="opening",
      over={"opening": "节日快乐，有什么事？"}),

    # --- angry: the caller who spoke before the greeting -------------------------------------------
    W("angry", OK, "xh", "客户先开口发火；接起电话的问候语不是对客户的答复，不需安抚", S0, target="opening",
      over={"open_c": ANGRY_OPEN, "opening": "您好，星海宽带客服中心，请问您贵姓？",
            "reason": "我姓{S}，我家宽带三天都上不了网了！", "ask_name": None, "give_name": None}),
    W("angry", OK, "xh", "问候后的第一句回复先安抚（消消气、致歉）", S0, target="req",
      over={"open_c": ANGRY_OPEN, "opening": "您好，星海宽带客服中心，请问您贵姓？",
            "reason": "我姓{S}，我家宽带三天都上不了网了！", "ask_name": None, "give_name": None,
            "req": "{T}您消消气，非常抱歉给您带来不便，麻烦您提供一下宽带的安装地址，我马上帮您查。"}),
    W("angry", BAD, "xh", "客户开口就发火，问候后的第一句回复直接索要信息，没有安抚", S0, target="req",
      over={"open_c": ANGRY_OPEN, "opening": "您好，星海宽带客服中心，请问您贵姓？",
            "reason": "我姓{S}，我家宽带三天都上不了网了！", "ask_name": None, "give_name": None,
            "req": "提供一下安装地址。"}),
    E("angry", BAD, "jh", ["C:我都等了一个星期了！你们到底管不管！", "T:您的订单还在处理中。"],
      "客户激动时没有先安抚", S0),

    # --- forbidden: 服务忌语 variants ---------------------------------------------------------------
    E("forbidden", BAD, "xh", ["C:你好，我找一下小李，她是我同学。", "T:她在上班，你自己打给她吧。"],
      "把事情推回给客户自己办（首接责任制）", S0),
    E("forbidden", BAD, "cs", ["C:你们这服务也太差了。", "T:无聊，别来烦我。"],
      "“别来烦我”同“你烦不烦啊！不烦我烦了！”", S0),
    E("forbidden", BAD, "xh", ["C:我家宽带为什么老掉线？", "T:这不归我们客服管。"],
      "以跟自己部门没关系为由推诿（002）", S2),
    E("forbidden", BAD, "sd", ["C:我的快递丢了，谁来负责？", "T:你自己去找快递员。"],
      "让客户自己去找人，推诿", S0),
    E("forbidden", OK, "xh", ["C:你好，我找一下小李，她是我同学。",
                              "T:很抱歉，上班时间不方便接私人电话，您把联系方式留给我，我帮您转告她。"],
      "代为转告，合规", S0),
    E("forbidden", OK, "xh", ["C:我家宽带为什么老掉线？",
                              "T:这个需要装维部门检测线路，我帮您转给他们，24小时内给您回复。"],
      "需要其他部门时由客服转交跟进，合规", S0),
    E("forbidden", OK, "sd", ["C:我想看看我的快递到哪了。",
                              "T:您也可以在手机APP上自己查询物流，我现在先帮您查一下。"],
      "告诉客户自助查询的途径并主动帮查，不是推诿", S0),

    # --- callback: a reply within 12 h / 24 h ------------------------------------------------------
    E("callback", BAD, "xh", ["C:我要投诉，师傅约好昨天来的，到现在也没来。",
                              "T:非常抱歉，我们核实一下，一周左右给您答复。"],
      "答复时限超过24小时（001 第17条：12/24小时内）", S1),
    E("callback", BAD, "aj", ["C:我要投诉，你们保安态度太凶了。", "T:对不起，给您添麻烦了，我们三天后给您回电。"],
      "三天后才回复，超过24小时", S1),
    E("callback", BAD, "dx", ["C:那我的问题什么时候能给我答复？", "T:这个需要上级审批，下周给您回复。"],
      "下周才答复，超过24小时", S1),
    E("callback", BAD, "cs", ["C:我要投诉，净水器装完就漏水。", "T:很抱歉，我们会在四十八小时内联系您。"],
      "48小时超过24小时时限", S1),
    E("callback", OK, "xh", ["C:我要投诉，师傅约好昨天来的，到现在也没来。",
                             "T:非常抱歉，我已经记录了您的投诉，会在24小时之内给您明确的答复。"],
      "001 第17条标准时限", S1),
    E("callback", OK, "aj", ["C:我要投诉，你们保安态度太凶了。", "T:对不起，给您添麻烦了，我们核实后今天下班前给您回电。"],
      "当日内回复（000 当日内回复对方）", S0),
    E("callback", OK, "ly", ["C:我要投诉，空调修了两次还是不制冷。",
                             "T:很抱歉给您带来不便，新的师傅两天内上门，我们12小时内先给您回电确认时间。"],
      "答复在12小时内；上门时间不是答复时限", S1),
    E("callback", OK, "sd", ["C:我的退款什么时候到账？", "T:您的退款会在3到5个工作日内原路退回，到账后会有短信提醒。"],
      "退款到账的时间说明，不是答复承诺", S1),

    # --- price: no quotes on the phone, also in Chinese numerals ----------------------------------
    E("price", BAD, "cs", ["C:你们那款R7净水器多少钱？", "T:这款是三千二百元。"],
      "电话中报价（000 服务中心不提供报价）", S0),
    E("price", BAD, "dx", ["C:那个套餐一个月多少？", "T:一个月一百二十九。"],
      "报了月资费", S0),
    E("price", BAD, "ly", ["C:安装费怎么收？", "T:安装费两百块左右。"],
      "报了安装费", S0),
    E("price", BAD, "ly", ["C:那台变频空调现在卖多少？", "T:活动价要两千二。"],
      "报了活动价", S0),
    E("price", OK, "dx", ["C:那个套餐一个月多少？", "T:很抱歉，电话里我们不报价，您可以到营业厅或者官网了解具体资费。"],
      "不报价并提供渠道", S0),
    E("price", OK, "ly", ["C:安装费怎么收？",
                          "T:不好意思，具体费用我们这边不提供报价，您可以咨询当地门店，安装一般两个小时就能完成。"],
      "不报价；安装时长不是价格", S0),
    E("price", OK, "ly", ["C:这款空调多少钱？", "T:您好，我是1024号客服，很抱歉电话里不报价，您可以到门店或官网了解。"],
      "工号不是价格", S0),
    E("price", OK, "jh", ["C:三千块能买到吗？", "T:很抱歉，我们服务中心不提供报价，建议您咨询当地门店。"],
      "客户报价位询问时仍不报价", S0),

    # --- closing: the caller stays on silently after the thanks (000 1.2) ---------------------------
    W("closing", OK, "aj", "致谢后客户未挂机：再问一次，仍无回应，告知“对不起，我挂线了”后挂机（000 1.2）", S0,
      target="last",
      over={"close": [("agent", "好的，感谢您的来电，请您先挂机，再见。"), ("caller", "（无声）"),
                      ("agent", "请问还有什么可以帮助您的吗？"), ("caller", "（无声）"),
                      ("agent", "对不起，我挂线了。（挂机）")]}),
    W("closing", BAD, "aj", "致谢后客户未挂机，没有再次询问就催促并挂机（000 1.2：再次询问后告知“我挂线了”）", S0,
      target="last",
      over={"close": [("agent", "好的，感谢您的来电，请您先挂机，再见。"), ("caller", "（无声）"),
                      ("agent", "不说话我就挂了啊。（挂机）")]}),

    # --- hold: a progress check-in during a long lookup (002: 核实过程中保持联系，30 秒内回应) --------
    E("hold", OK, "dx", ["C:我上个月申请的退费到账没有？", "A:请您稍等，我帮您查询一下。（保持）",
                         "T:{T}，还在跟财务那边确认，麻烦您再稍等一会儿。"],
      "查询中途回到线上告知进度、请客户继续稍等，是 002 要求的保持联系，不是保持结束", S2),
    E("hold", BAD, "dx", ["C:我上个月申请的退费到账没有？", "A:请您稍等，我帮您查询一下。（保持）",
                          "A:{T}，还在跟财务那边确认，麻烦您再稍等一会儿。", "T:查到了，退费下周一到账。"],
      "等待结束回到通话没有先感谢客户等候（003）", S3),

    # --- nuisance: a harassing caller answered with 线路故障，请挂机 (003) ----------------------------
    E("sales-harassment", OK, "sd", ["A:您好，顺达快递，请问有什么可以帮您？",
                                     "C:小姐姐声音真好听，交个朋友呗，我都打了好几次了！", "T:线路故障，请挂机。"],
      "骚扰来电按 003 的标准应对，不需安抚", S3),
    E("sales-harassment", BAD, "sd", ["A:您好，顺达快递，请问有什么可以帮您？",
                                      "C:小姐姐声音真好听，交个朋友呗，我都打了好几次了！", "T:你有病吧，再打我就报警。"],
      "与骚扰者对骂（003 不允许与骚扰对骂）", S3),

    # --- silent: blaming the caller's phone, politely worded (000 流程 2 类似语言) ----------------------
    E("silent", BAD, "aj", ["A:您好，安居物业，请问有什么可以帮您？", "C:（无声）",
                            "T:您好？您那儿的话机是不是出问题了？"],
      "客气版的“你电话有问题了”（000 禁忌用语或类似语言）", S0),
    E("silent", OK, "aj", ["A:您好，安居物业，请问有什么可以帮您？", "C:（无声）",
                           "T:您好，请问您能听到我的声音吗？"],
      "无声时再次问候", S0),

    # --- dialect: the agent understood and restates the need to confirm ----------------------------
    E("dialect", OK, "aj", ["A:您好，安居物业，请问有什么可以帮您？", "C:（方言）俺那个燃气表……不走字咧……",
                            "T:大叔，我跟您核对一下，您是说燃气表不走字了，对吗？"],
      "听懂了客户的方言，复述需要请客户确认（000 听不明白时才请讲普通话）", S0),
    E("dialect", BAD, "aj", ["A:您好，安居物业，请问有什么可以帮您？", "C:（方言）俺那个燃气表……不走字咧……",
                             "T:啊？你说啥？"],
      "听不明白时没有礼貌地请客户讲普通话，反问客户", S0),

    # --- forbidden: 没办法 with a reason and another way -------------------------------------------
    E("forbidden", OK, "dx", ["C:我帮我老婆查一下她这个月的通话记录。",
                              "T:对不起，通话记录属于机主个人隐私，我们没办法透露，请您爱人本人凭服务密码查询。"],
      "说明原因并给出本人查询的途径，不是一句“没办法”推掉", S0),
    E("forbidden", BAD, "dx", ["C:我帮我老婆查一下她这个月的通话记录。", "T:这个我们也没办法，您别问了。"],
      "“我没办法”且不给原因和途径（000 服务忌语）", S0),

    # --- suggestion: thanks and feedback, not a brush-off (001 (10)) ------------------------------
    E("suggestion", BAD, "xh", ["C:你们的账单能不能也发一份到邮箱？纸质的老是弄丢。", "T:这个改不了，系统就这么设置的。"],
      "否定客户的建议，没有致谢和反馈（001 (10)）", S1),
    E("suggestion", BAD, "xh", ["C:你们的售后热线能不能延长到晚上九点？我下班就打不进来了。", "T:哦，行吧。"],
      "对建议冷淡敷衍，未致谢未反馈（001 (10)）", S1),
    E("suggestion", OK, "xh", ["C:你们的售后热线能不能延长到晚上九点？我下班就打不进来了。",
                               "T:谢谢您的宝贵建议，我已经记录下来，会反馈给相关部门。"],
      "001 (10) 标准用语", S1),
    E("suggestion", OK, "ly", ["C:你们能不能早几天派人来修我家空调？", "T:非常抱歉，我马上帮您联系师傅，看能不能提前上门。"],
      "催修是客户自己的需求，不是对公司的建议", S1),

    # --- blame, impatience, 强词夺理 (000 服务态度要求 4, 五个不说) ----------------------------------
    E("apology", BAD, "xh", ["A:师傅周三上午上门。", "C:你刚才不是说周二吗？", "T:我可没说错，是您记错了吧。"],
      "出现差错时强词夺理，把错推给客户（000 服务态度要求 4）", S0),
    E("apology", OK, "xh", ["A:师傅周三上午上门。", "C:你刚才不是说周二吗？",
                            "T:对不起，可能是我刚才没说清楚，师傅是周三上午上门，给您添麻烦了。"],
      "诚恳致歉并纠正", S0),
    E("forbidden", BAD, "dx", ["C:不好意思，这个设置我还是没弄明白。", "T:我已经跟您解释过三次了，您照着做就行。"],
      "埋怨客户（000 五个不说），应重新解释直到客户明白（001 (18)）", S1),
    E("forbidden", BAD, "jh", ["C:抱歉啊，都这个点了还打过来。", "T:是挺晚的，我们马上下班了，您快点讲吧。"],
      "催促、埋怨客户（000 五个不说；001 (12) 应回“没关系”）", S1),
    E("forbidden", OK, "jh", ["C:抱歉啊，都这个点了还打过来。", "T:没关系，这是我们应该做的，您请慢慢说。"],
      "客户致歉时回“没关系”（001 (12)）", S1),
    E("forbidden", OK, "dx", ["C:不好意思，这个设置我还是没弄明白。",
                              "T:没关系，我再为您说一遍：先打开设置，点“移动网络”，再把漫游开关打开就可以了。"],
      "客户没明白时重新解释（001 (18)）", S1),
    E("forbidden", BAD, "sd", ["C:为什么生鲜不能退？", "T:详情页早写得明明白白，您买之前自己没看吗？"],
      "000 服务忌语“页面没介绍吗？你自己怎么不看啊！”的变体", S0),
    E("forbidden", OK, "sd", ["C:为什么生鲜不能退？",
                              "T:非常抱歉，生鲜商品因为保存的原因不支持无理由退货，如果收到时有质量问题，我可以马上帮您申请售后。"],
      "说明原因并给出办法", S0),
    E("hedging", BAD, "dx", ["C:国际漫游怎么开通？", "T:抱歉，这个我不大了解，您还是去营业厅问问吧。"],
      "不熟悉的业务推给客户，没有询问相关人员（000 不得推诿、搪塞）", S0),
    E("hedging", OK, "dx", ["C:国际漫游怎么开通？", "T:请您稍等，我帮您问一下业务同事，马上给您答复。"],
      "不清楚时询问相关人员再答复", S0),

    # --- thanks: 谦虚致谢 after a compliment (000 服务态度要求 6) -------------------------------------
    E("thanks", BAD, "ly", ["C:你可比上次那个客服靠谱多了。", "T:那是，我在我们组可是最专业的。"],
      "被表扬后自夸，不是谦虚致谢", S0),
    E("thanks", OK, "ly", ["C:你可比上次那个客服靠谱多了。", "T:谢谢您的肯定，这是我们应该做的。"],
      "谦虚致谢", S0),

    # --- repeat-back: a labelled short number (000 数字务必复述) -----------------------------------
    E("repeat-back", BAD, "dx", ["C:我那张副卡尾号是5520，帮我停一下机。", "T:行，马上帮您停。"],
      "客户报了尾号，没有复述确认就办理", S0),
    E("repeat-back", OK, "dx", ["C:我那张副卡尾号是5520，帮我停一下机。", "T:跟您确认一下，是尾号5520的副卡，对吗？"],
      "复述号码请客户确认", S0),

    # --- terse: a why-question answered with a few words (002 问一句答一句) --------------------------
    E("terse", BAD, "aj", ["C:这个月物业费怎么比上个月贵了？", "T:涨价了。"],
      "客户问原因只回一句结论，没有查询和解释", S2),
    E("terse", OK, "aj", ["C:这个月物业费怎么比上个月贵了？",
                          "T:我帮您查一下，这个月多了公摊的电梯维修费六十元，业主大会上个月通过的，明细在缴费单背面。"],
      "查询并解释原因", S2),

    # --- chat: closing while the customer asks, a bare 拜拜 (001 (19)(20)) ----------------------------
    E("nuisance-chat", BAD, "sd", ["C:那退货运费谁出呢", "A:七天内退货运费由我们承担。", "C:还有个事想问下", "T:（关闭对话）"],
      "客户还在咨询就关闭对话（001 (20) 无反应 1 小时后才可关闭）", S1, chan="chat"),
    E("closing", BAD, "sd", ["C:好 那我晚点再看看物流", "T:嗯嗯，再见~"],
      "在线结束只说再见，没有询问还有什么可以帮助您（001 (19)）", S1, chan="chat"),
    E("closing", OK, "sd", ["C:好 那我晚点再看看物流", "T:好的，请问还有什么可以帮助您？"],
      "001 (19) 先询问是否还有其他咨询", S1, chan="chat"),
]]
