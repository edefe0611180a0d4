/* gen_corpus — deterministic generator of realistic Vietnamese news feeds
 * for the benchmarks (bench/parse.sh, and the fetch-cycle benchmark).
 *
 *   gen_corpus [--seed S] [--format rss|atom] --items N [--out FILE]
 *       one feed of N items (e.g. --items 20000 for a ~50 MB feed), written
 *       as it is generated (constant memory), to FILE or standard output;
 *   gen_corpus [--seed S] --feeds N --out DIR [--items M]
 *       N feed files DIR/feed-00000.xml ... of M items each (default 20),
 *       even numbers RSS 2.0, odd numbers Atom 1.0, each with its own
 *       district/ministry name, so the set looks like a portal's sources.
 *
 * The same arguments always produce the same bytes: a fixed-seed PRNG
 * (splitmix64) and a fixed base date, no clock, no locale. The items read
 * like a provincial portal's news: Vietnamese titles and paragraphs with
 * diacritics (NFC), HTML content with paragraphs, images and links, named
 * and numeric entities, half of the RSS items in CDATA and half escaped. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A feed of this many items is the "normal" size issue #2 names. */
#define GEN_DEFAULT_ITEMS 20
/* 2022-05-31T03:55:00Z: the portal's newest story, as in the SPEC. */
#define GEN_BASE_UTC INT64_C(1653969300)
/* Item dates step back by 7..97 minutes, like a busy district portal. */
#define GEN_STEP_MIN_S 420
#define GEN_STEP_SPAN_S 5400

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rng_below(COUNT(a))])

static const char *const sources[] = {
    "Huyện Như Thanh",   "Huyện Như Xuân",    "Huyện Thường Xuân",
    "Huyện Ngọc Lặc",    "Thị xã Nghi Sơn",   "Huyện Quảng Xương",
    "Huyện Hoằng Hóa",   "Thành phố Sầm Sơn", "Sở Thông tin và Truyền thông",
    "Sở Y tế Thanh Hóa", "Bộ Xây dựng",       "Bộ Tài nguyên và Môi trường",
};
static const char *const slugs[] = {
    "nhuthanh", "nhuxuan", "thuongxuan", "ngoclac", "nghison", "quangxuong",
    "hoanghoa", "samson",  "stttt",      "syt",     "moc",     "monre",
};

static const char *const subjects[] = {
    "UBND huyện",       "Ban Chỉ đạo chuyển đổi số", "Hội Nông dân xã",
    "Đoàn Thanh niên",  "Sở Kế hoạch và Đầu tư",     "Trung tâm Y tế huyện",
    "Mặt trận Tổ quốc", "Hội Liên hiệp Phụ nữ",      "Phòng Giáo dục và Đào tạo",
    "Công an huyện",    "Ban Quản lý dự án",         "Hội đồng nhân dân",
};
static const char *const verbs[] = {
    "triển khai", "tổ chức",     "tổng kết", "hướng dẫn", "kiểm tra",  "phát động",
    "ra quân",    "khánh thành", "ký kết",   "đánh giá",  "phê duyệt", "tuyên truyền",
};
static const char *const objects[] = {
    "kế hoạch chuyển đổi số năm 2022",
    "phong trào xây dựng nông thôn mới nâng cao",
    "công tác phòng, chống thiên tai và tìm kiếm cứu nạn",
    "chương trình mỗi xã một sản phẩm (OCOP)",
    "tiêm vắc-xin phòng Covid-19 mũi 3 cho trẻ em",
    "dự án nâng cấp đường giao thông liên xã",
    "cải cách hành chính và dịch vụ công trực tuyến",
    "hội nghị sơ kết 6 tháng đầu năm",
    "tháng hành động vì an toàn thực phẩm",
    "kỳ thi tốt nghiệp THPT năm 2022",
    "chiến dịch \"Xanh – Sạch – Đẹp\" & bảo vệ môi trường",
    "quy hoạch sử dụng đất đến năm 2030",
};
static const char *const places[] = {
    "xã Xuân Khang", "thị trấn Bến Sung", "xã Hải Long", "xã Phú Nhuận", "xã Xuân Phúc",
    "xã Thanh Tân",  "xã Cán Khê",        "xã Yên Lạc",  "xã Mậu Lâm",   "xã Phượng Nghi",
};
static const char *const sentences[] = {
    "Hội nghị có sự tham dự của đại diện lãnh đạo các phòng, ban, ngành cấp huyện",
    "Theo báo cáo, trong 5 tháng đầu năm, toàn huyện đã giải ngân được 68,5% kế hoạch vốn",
    ("Đồng chí Phó Chủ tịch UBND huyện đề nghị các đơn vị tiếp tục quán triệt, triển khai "
     "đồng bộ các giải pháp"),
    "Người dân đã chủ động tham gia, đóng góp hơn 1.200 ngày công lao động",
    "Kết quả cho thấy tỷ lệ hồ sơ giải quyết đúng hạn đạt 98,7%, tăng 4,2% so với cùng kỳ",
    "Đến nay, 100% cán bộ, công chức cấp xã đã được cấp chữ ký số",
    "Chương trình nhằm nâng cao nhận thức của cộng đồng về bảo vệ môi trường",
    "Dự kiến công trình sẽ hoàn thành và đưa vào sử dụng trước ngày 30/9/2022",
    "Lực lượng chức năng đã kiểm tra 45 cơ sở, nhắc nhở 7 cơ sở vi phạm",
    "Các đại biểu thống nhất cao với dự thảo nghị quyết được trình tại kỳ họp",
    "Nhiều mô hình sản xuất hiệu quả cho thu nhập từ 300 – 500 triệu đồng/năm",
    "Thời gian tới, huyện sẽ tập trung chỉ đạo quyết liệt để hoàn thành các chỉ tiêu",
};
static const char *const tags[] = {
    "Chuyển đổi số", "Nông thôn mới",        "Y tế", "Giáo dục", "Kinh tế", "Xã hội", "Thời sự",
    "Môi trường",    "An ninh – Quốc phòng",
};
static const char *const authors[] = {
    "Lê Hà",     "Nguyễn Thị Thu Hương", "Trịnh Văn Đức", "Phạm Minh Tuấn",
    "Hoàng Lan", "Đỗ Quang Vinh",        "Bùi Thị Ngọc",  "Văn phòng UBND huyện",
};
static const char *const wdays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

enum gen_format { GEN_RSS, GEN_ATOM };

struct gen_date {
    int year, month, day, hour, min, sec, wday;
};

/* Civil-from-days (H. Hinnant), shifted to +07:00 for the RSS form. */
static struct gen_date date_of(int64_t utc)
{
    struct gen_date d;
    int64_t days = utc / 86400, rem = utc % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    d.wday = (int)(((days % 7) + 7) % 7);
    d.hour = (int)(rem / 3600);
    d.min = (int)(rem % 3600 / 60);
    d.sec = (int)(rem % 60);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    d.day = (int)(doy - (153 * mp + 2) / 5 + 1);
    d.month = (int)(mp < 10 ? mp + 3 : mp - 9);
    d.year = (int)(yoe + era * 400 + (d.month <= 2));
    return d;
}

static void put_rfc822(FILE *f, int64_t utc)
{
    struct gen_date d = date_of(utc + 7 * 3600);
    fprintf(f, "%s, %02d %s %04d %02d:%02d:%02d +0700", wdays[d.wday], d.day, months[d.month - 1],
            d.year, d.hour, d.min, d.sec);
}

static void put_rfc3339(FILE *f, int64_t utc)
{
    struct gen_date d = date_of(utc + 7 * 3600);
    fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d+07:00", d.year, d.month, d.day, d.hour, d.min, d.sec);
}

/* Writes `s` with XML's five special characters escaped. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Builds one item's HTML body into `out` (at most `cap` bytes with the NUL):
 * a lead paragraph, an image with a caption, 3..8 paragraphs with a link,
 * entities as CMSs emit them (&nbsp; &ndash; numeric), and a byline. */
static void make_html(char *out, size_t cap, const char *slug, unsigned long long n)
{
    size_t len = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        int k_ = snprintf(out + len, cap - len, __VA_ARGS__);                                      \
        if (k_ > 0)                                                                                \
            len = (size_t)k_ < cap - len ? len + (size_t)k_ : cap - 1;                             \
    } while (0)
    APPEND("<p><strong>(%s) - %s.</strong></p>", slug, PICK(sentences));
    APPEND("<p style=\"text-align:center\"><img src=\"/uploads/2022/05/%s-%llu.jpg\" alt=\"Ảnh: "
           "%s\" width=\"600\" height=\"400\" /></p>",
           slug, n, PICK(places));
    APPEND("<p style=\"text-align:center\"><em>Quang cảnh hội nghị tại %s&nbsp;(Ảnh: "
           "%s)</em></p>",
           PICK(places), PICK(authors));
    size_t paras = 3 + rng_below(6);
    for (size_t i = 0; i < paras; i++) {
        if (i == 1)
            APPEND("<p>%s. Xem thêm: <a href=\"https://%s.thanhhoa.gov.vn/tin-tuc/%llu\" "
                   "target=\"_blank\">%s %s</a>&#8230;</p>",
                   PICK(sentences), slug, n + 7, PICK(verbs), PICK(objects));
        else
            APPEND("<p>%s; %s &ndash; %s.</p>", PICK(sentences), PICK(sentences), PICK(places));
    }
    APPEND("<p style=\"text-align:right\"><strong>%s</strong></p>", PICK(authors));
#undef APPEND
}

static void write_item(FILE *f, enum gen_format fmt, const char *slug, unsigned long long n,
                       int64_t utc)
{
    char title[512], html[8192];
    snprintf(title, sizeof title, "%s %s %s %s", PICK(subjects), PICK(verbs), PICK(objects),
             PICK(places));
    make_html(html, sizeof html, slug, n);
    const char *tag1 = PICK(tags), *tag2 = PICK(tags), *author = PICK(authors);

    if (fmt == GEN_RSS) {
        fputs("    <item>\n      <title>", f);
        put_escaped(f, title);
        fprintf(f,
                "</title>\n      <link>https://%s.thanhhoa.gov.vn/tin-tuc/tin-%llu.htm</link>\n"
                "      <guid isPermaLink=\"false\">%s-%llu</guid>\n      <pubDate>",
                slug, n, slug, n);
        put_rfc822(f, utc);
        fputs("</pubDate>\n      <dc:creator>", f);
        put_escaped(f, author);
        fputs("</dc:creator>\n      <category>", f);
        put_escaped(f, tag1);
        fputs("</category>\n      <category>", f);
        put_escaped(f, tag2);
        fputs("</category>\n      <description>", f);
        if (n % 2 == 0) {
            fputs("<![CDATA[", f);
            fputs(html, f);
            fputs("]]>", f);
        } else {
            put_escaped(f, html);
        }
        fprintf(f,
                "</description>\n      <enclosure url=\"https://%s.thanhhoa.gov.vn/uploads/2022/"
                "05/%s-%llu.jpg\" type=\"image/jpeg\" length=\"%zu\" />\n    </item>\n",
                slug, slug, n, 40000 + rng_below(200000));
    } else {
        fputs("  <entry>\n    <title type=\"text\">", f);
        put_escaped(f, title);
        fprintf(f,
                "</title>\n    <link rel=\"alternate\" type=\"text/html\" "
                "href=\"https://%s.thanhhoa.gov.vn/tin-tuc/tin-%llu.htm\"/>\n"
                "    <id>tag:%s.thanhhoa.gov.vn,2022:%llu</id>\n    <published>",
                slug, n, slug, n);
        put_rfc3339(f, utc);
        fputs("</published>\n    <updated>", f);
        put_rfc3339(f, utc + 600);
        fputs("</updated>\n    <author><name>", f);
        put_escaped(f, author);
        fputs("</name></author>\n    <category term=\"", f);
        put_escaped(f, tag1);
        fputs("\"/>\n    <summary type=\"text\">", f);
        put_escaped(f, PICK(sentences));
        fputs("</summary>\n    <content type=\"html\">", f);
        put_escaped(f, html);
        fputs("</content>\n  </entry>\n", f);
    }
}

static void write_feed(FILE *f, enum gen_format fmt, size_t src, unsigned long long items)
{
    const char *name = sources[src % COUNT(sources)], *slug = slugs[src % COUNT(slugs)];
    int64_t utc = GEN_BASE_UTC - (int64_t)rng_below(3600);
    if (fmt == GEN_RSS) {
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" "
              "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
              "xmlns:atom=\"http://www.w3.org/2005/Atom\">\n  <channel>\n    <title>",
              f);
        fprintf(f, "%s - Tin tức</title>\n    <link>https://%s.thanhhoa.gov.vn/</link>\n", name,
                slug);
        fprintf(f,
                "    <atom:link href=\"https://%s.thanhhoa.gov.vn/rss/tin-tuc.rss\" rel=\"self\" "
                "type=\"application/rss+xml\"/>\n    <description>Cổng thông tin điện tử %s"
                "</description>\n    <language>vi</language>\n    <lastBuildDate>",
                slug, name);
        put_rfc822(f, utc);
        fputs("</lastBuildDate>\n    <ttl>15</ttl>\n", f);
    } else {
        fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"vi\">\n  <title>",
              f);
        fprintf(f,
                "%s</title>\n  <subtitle>Tin mới nhất</subtitle>\n"
                "  <link rel=\"alternate\" href=\"https://%s.thanhhoa.gov.vn/\"/>\n"
                "  <link rel=\"self\" href=\"https://%s.thanhhoa.gov.vn/atom.xml\"/>\n"
                "  <id>https://%s.thanhhoa.gov.vn/</id>\n  <updated>",
                name, slug, slug, slug);
        put_rfc3339(f, utc);
        fputs("</updated>\n", f);
    }
    for (unsigned long long n = 0; n < items; n++) {
        write_item(f, fmt, slugs[src % COUNT(slugs)], 100000 + n, utc);
        utc -= GEN_STEP_MIN_S + (int64_t)rng_below(GEN_STEP_SPAN_S);
    }
    fputs(fmt == GEN_RSS ? "  </channel>\n</rss>\n" : "</feed>\n", f);
}

static int usage(FILE *out)
{
    fputs("usage: gen_corpus [--seed S] [--format rss|atom] --items N [--out FILE]\n"
          "       gen_corpus [--seed S] --feeds N --out DIR [--items M]\n",
          out);
    return out == stdout ? 0 : 2;
}

static int parse_count(const char *s, unsigned long long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long long seed = 2022, items = 0, feeds = 0;
    int have_items = 0;
    const char *out = NULL, *format = "rss";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0)
            return usage(stdout);
        if (i + 1 >= argc)
            return usage(stderr);
        const char *v = argv[++i];
        int bad = 0;
        if (strcmp(a, "--seed") == 0)
            bad = parse_count(v, &seed);
        else if (strcmp(a, "--items") == 0)
            bad = parse_count(v, &items), have_items = 1;
        else if (strcmp(a, "--feeds") == 0)
            bad = parse_count(v, &feeds);
        else if (strcmp(a, "--out") == 0)
            out = v;
        else if (strcmp(a, "--format") == 0)
            format = v;
        else
            return usage(stderr);
        if (bad != 0) {
            fprintf(stderr, "gen_corpus: bad number for %s: %s\n", a, v);
            return 2;
        }
    }
    enum gen_format fmt = strcmp(format, "atom") == 0 ? GEN_ATOM : GEN_RSS;
    if (strcmp(format, "rss") != 0 && strcmp(format, "atom") != 0)
        return usage(stderr);
    rng_state = seed;

    if (feeds > 0) {
        if (out == NULL)
            return usage(stderr);
        if (!have_items)
            items = GEN_DEFAULT_ITEMS;
        if (mkdir(out, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "gen_corpus: %s: %s\n", out, strerror(errno));
            return 1;
        }
        for (unsigned long long n = 0; n < feeds; n++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/feed-%05llu.xml", out, n);
            FILE *f = fopen(path, "w");
            if (f == NULL) {
                fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
                return 1;
            }
            write_feed(f, n % 2 == 0 ? GEN_RSS : GEN_ATOM, (size_t)n, items);
            if (fclose(f) != 0) {
                fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
                return 1;
            }
        }
        return 0;
    }
    if (!have_items)
        return usage(stderr);
    FILE *f = out != NULL ? fopen(out, "w") : stdout;
    if (f == NULL) {
        fprintf(stderr, "gen_corpus: %s: %s\n", out, strerror(errno));
        return 1;
    }
    write_feed(f, fmt, 0, items);
    if ((out != NULL ? fclose(f) : fflush(f)) != 0) {
        fprintf(stderr, "gen_corpus: write failed: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
