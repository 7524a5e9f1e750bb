// One customer of data/wa_churn.csv; also compiled into examples/Benchmarks, CompressedModels and Consumer (linked), so all read the same row type.
/// <summary>One customer, as loaded from the CSV.</summary>
public sealed class ChurnRow
{
    public string Label { get; set; } = "";
    public float female { get; set; }
    public float senior_citizen { get; set; }
    public float partner { get; set; }
    public float dependents { get; set; }
    public float tenure { get; set; }
    public float phone_service { get; set; }
    public string multiple_lines { get; set; } = "";
    public string internet_service { get; set; } = "";
    public string online_security { get; set; } = "";
    public string online_backup { get; set; } = "";
    public string device_protection { get; set; } = "";
    public string tech_support { get; set; } = "";
    public string streaming_tv { get; set; } = "";
    public string streaming_movies { get; set; } = "";
    public string contract { get; set; } = "";
    public float paperless_billing { get; set; }
    public string payment_method { get; set; } = "";
    public float monthly_charges { get; set; }
    public float total_charges { get; set; }
}
