from django.db import migrations, models

# The Chinese names of the reasons 0003 put in; reasons added since are left for supervisors.
CHINESE = {
    "Spam or advertising": "垃圾信息或广告",
    "Harassment or hate speech": "骚扰或仇恨言论",
    "Sexual content": "色情内容",
    "Violence or threats": "暴力或威胁",
    "Ban evasion": "规避封禁",
    "Raid": "恶意刷屏（集体捣乱）",
}


def name_in_chinese(apps, schema_editor):
    CannedReason = apps.get_model("moderation", "CannedReason")
    for text, text_zh in CHINESE.items():
        CannedReason.objects.filter(text=text, text_zh="").update(text_zh=text_zh)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0006_ban_claimed_by")]

    operations = [
        migrations.AddField(
            model_name="cannedreason",
            name="text_zh",
            field=models.CharField(
                blank=True,
                help_text="What Chinese-speaking moderators see in the list; the English is recorded.",
                max_length=200,
                verbose_name="reason in Chinese",
            ),
        ),
        migrations.RunPython(name_in_chinese, migrations.RunPython.noop),
    ]
