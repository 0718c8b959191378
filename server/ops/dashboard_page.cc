#include "server/ops/ops_http_server.h"

namespace sluice {

// Plain HTML and vanilla JavaScript, served by the coordinator itself: no
// build step, no CDN (the page must work on an isolated network).
const char kDashboardPage[] = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice coordinator</title>
<style>
 body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1f2937;background:#f9fafb}
 h1{font-size:1.3rem;margin:0 0 .3rem} h2{font-size:1rem;margin:1.4rem 0 .4rem}
 table{border-collapse:collapse;background:#fff;min-width:40rem}
 td,th{border:1px solid #e5e7eb;padding:.25rem .6rem;text-align:right}
 td:first-child,th:first-child{text-align:left} th{background:#f3f4f6}
 .bad{color:#b91c1c;font-weight:600} .ok{color:#047857} .muted{color:#6b7280}
 .bar{display:inline-block;height:.6rem;background:#60a5fa;vertical-align:middle}
</style></head><body>
<h1>Sluice coordinator</h1>
<div id="status" class="muted">loading…</div>
<h2>Queue depth</h2><table id="queue"></table>
<h2>Budget headroom</h2><table id="budgets"></table>
<h2>Checkpoints</h2><table id="checkpoints"></table>
<h2>Jobs</h2><table id="jobs"></table>
<script>
function esc(v){return String(v).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]))}
function table(id,head,rows){
  const t=document.getElementById(id);
  t.innerHTML="<tr>"+head.map(h=>"<th>"+esc(h)+"</th>").join("")+"</tr>"+
    (rows.length?rows.map(r=>"<tr>"+r.map(c=>"<td>"+c+"</td>").join("")+"</tr>").join("")
                 :"<tr><td class=muted colspan="+head.length+">none</td></tr>");
}
function age(s){if(s<0)return "–";if(s<120)return Math.round(s)+" s";if(s<7200)return Math.round(s/60)+" min";return (s/3600).toFixed(1)+" h"}
let last=null;
async function refresh(){
  try{
    const r=await fetch("api/ops"); const d=await r.json();
    document.getElementById("status").innerHTML=(d.database_ok?"<span class=ok>database ok</span>":
      "<span class=bad>database unavailable: "+esc(d.database_error||"")+"</span>")+
      " <span class=muted>· "+esc(d.taken_at)+"</span>";
    table("queue",["kind","ready","leased","retrying","dead","oldest"],
      d.queue.map(k=>[esc(k.kind),k.ready,k.leased,k.retrying,k.dead?"<span class=bad>"+k.dead+"</span>":0,age(k.oldest_age_seconds)]));
    table("budgets",["budget","remaining / limit","window","granted","denied","state"],
      d.budgets.map(b=>{const f=b.limit>0?b.remaining/b.limit:0;
        return [esc(b.name),"<span class=bar style='width:"+Math.round(80*f)+"px'></span> "+b.remaining+" / "+b.limit,
          b.period_seconds+" s",b.granted,b.denied,b.restricted?"<span class=bad>restricted</span>":(b.learned?"learned":"default")]}));
    const prev={}; if(last)for(const c of last.checkpoints)prev[c.stream]=c;
    table("checkpoints",["stream","cursor","cursor age","pages","rows","rows/s"],
      d.checkpoints.map(c=>{const p=prev[c.stream];const rate=p?((c.rows-p.rows)/5).toFixed(1):"–";
        return [esc(c.stream),"<code>"+esc(c.cursor)+"</code>",c.age_seconds>600?"<span class=bad>"+age(c.age_seconds)+"</span>":age(c.age_seconds),c.pages,c.rows,rate]}));
    table("jobs",["job","running","last run","started","fail-closed skips"],
      d.jobs.map(j=>[esc(j.name),j.running?"yes":"",j.last_outcome==="failed"?"<span class=bad>failed</span>":esc(j.last_outcome||"–"),
        age(j.last_started_age_seconds),j.skipped_fail_closed]));
    last=d;
  }catch(e){document.getElementById("status").innerHTML="<span class=bad>coordinator unreachable</span>"}
}
refresh(); setInterval(refresh,5000);
</script></body></html>
)html";

}  // namespace sluice
