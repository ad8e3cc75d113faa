"use strict";(self.rspackChunkworkbench=self.rspackChunkworkbench||[]).push([[232],{475(e,r,o){var t=o(601),n=o.n(t),a=o(314),i=(o.n(a))()(n());i.push([e.id,`/* Workbench sidebar and views; JupyterLab's CSS variables keep it in the user's theme. */
.wb-sidebar {
  display: flex;
  flex-direction: column;
  overflow-y: auto;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1);
  min-width: 260px;
}

.wb-header {
  padding: 6px 8px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
}

.wb-header h2 {
  margin: 0 0 4px;
  font-size: var(--jp-ui-font-size2);
  font-weight: 600;
}

.wb-header-actions,
.wb-run-actions,
.wb-row-actions {
  display: flex;
  gap: 2px;
  align-items: center;
}

.wb-run-actions {
  justify-content: space-between;
}

.wb-row-actions {
  margin-left: auto;
  flex-shrink: 0;
}

.wb-store,
.wb-muted,
.wb-run-sub {
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.wb-button {
  padding: 1px 4px;
  border: none;
  border-radius: 2px;
  background: transparent;
  color: var(--jp-brand-color1);
  font-size: var(--jp-ui-font-size0);
  cursor: pointer;
}

.wb-button:hover {
  background: var(--jp-layout-color3);
}

.wb-header-actions .wb-button,
.wb-run-actions .wb-button {
  border: var(--jp-border-width) solid var(--jp-border-color1);
  color: var(--jp-ui-font-color1);
}

.wb-row-actions .wb-button {
  opacity: 0.55;
}

.wb-run:hover .wb-button,
.wb-model-title:hover .wb-button,
.wb-version:hover .wb-button,
.wb-report:hover .wb-button,
.wb-sweep:hover .wb-button {
  opacity: 1;
}

.wb-dot {
  display: inline-block;
  flex-shrink: 0;
  width: 8px;
  height: 8px;
  border-radius: 50%;
  background: var(--jp-layout-color3);
}

.wb-section-runs .wb-section-body {
  max-height: 50vh;
  overflow-y: auto;
}

.wb-section {
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
}

.wb-section > summary {
  cursor: pointer;
  padding: 4px 8px;
  font-weight: 600;
  text-transform: uppercase;
  font-size: var(--jp-ui-font-size0);
  letter-spacing: 0.04em;
}

.wb-section-status {
  margin-left: 6px;
  color: var(--jp-ui-font-color2);
  font-weight: normal;
}

.wb-run-controls {
  display: flex;
  flex-direction: column;
  gap: 3px;
  padding: 0 8px 4px;
}

.wb-run-controls select,
.wb-run-controls input {
  width: 100%;
  box-sizing: border-box;
  font-size: var(--jp-ui-font-size0);
}

.wb-section-body {
  padding: 0 0 4px;
}

.wb-run,
.wb-model-title,
.wb-version,
.wb-report,
.wb-sweep,
.wb-deployment {
  display: flex;
  align-items: center;
  gap: 4px;
  padding: 2px 8px;
  min-height: 24px;
}

.wb-run:hover,
.wb-model-title:hover,
.wb-version:hover,
.wb-report:hover,
.wb-sweep:hover {
  background: var(--jp-layout-color2);
}

.wb-model-title {
  cursor: pointer;
}

.wb-version {
  padding-left: 24px;
}

.wb-run-main {
  flex: 1;
  min-width: 0;
}

.wb-run-title {
  display: flex;
  gap: 4px;
  align-items: center;
}

.wb-run-name {
  font-weight: 500;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
  min-width: 0;
}

/* a trial's number stays visible however narrow the sidebar */
.wb-trial {
  flex-shrink: 0;
  font-variant-numeric: tabular-nums;
}

.wb-badge {
  border-radius: 8px;
  padding: 0 6px;
  font-size: 10px;
  background: var(--jp-layout-color3);
  color: var(--jp-ui-font-color1);
  white-space: nowrap;
}

.wb-badge-finished {
  background: var(--jp-success-color2, #a5d6a7);
}

.wb-badge-running {
  background: var(--jp-brand-color3, #90caf9);
}

.wb-badge-failed,
.wb-badge-killed,
.wb-badge-dead {
  background: var(--jp-error-color2, #ef9a9a);
}

.wb-alias {
  background: var(--jp-warn-color3, #ffe082);
}

.wb-empty,
.wb-error {
  padding: 4px 8px;
  color: var(--jp-ui-font-color2);
}

.wb-error {
  color: var(--jp-error-color1);
  white-space: pre-wrap;
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-ui-font-size0);
}

.wb-view {
  display: flex;
  flex-direction: column;
  height: 100%;
}

.wb-view-frame {
  flex: 1;
  border: none;
  width: 100%;
  height: 100%;
  background: white;
}

.wb-view-message {
  padding: 8px;
}

/* views drawn in the page (compare, run, sweep): the HTML part and the plotly figures */
.wb-view-body {
  flex: 1;
  overflow: auto;
  padding: 12px 16px;
  font-size: 13px;
  color: var(--jp-content-font-color1);
  background: var(--jp-layout-color0);
}

.wb-view-body table {
  border-collapse: collapse;
}

.wb-view-body th,
.wb-view-body td {
  padding: 2px 8px;
  border-bottom: 1px solid var(--jp-border-color2);
  text-align: left;
}

.wb-view-body .wb-figure {
  width: 100%;
  margin: 8px 0;
}
`,""]),o.d(r,{},{A:i})},314(e){e.exports=function(e){var r=[];return r.toString=function(){return this.map(function(r){var o="",t=void 0!==r[5];return r[4]&&(o+="@supports (".concat(r[4],") {")),r[2]&&(o+="@media ".concat(r[2]," {")),t&&(o+="@layer".concat(r[5].length>0?" ".concat(r[5]):""," {")),o+=e(r),t&&(o+="}"),r[2]&&(o+="}"),r[4]&&(o+="}"),o}).join("")},r.i=function(e,o,t,n,a){"string"==typeof e&&(e=[[null,e,void 0]]);var i={};if(t)for(var s=0;s<this.length;s++){var p=this[s][0];null!=p&&(i[p]=!0)}for(var c=0;c<e.length;c++){var l=[].concat(e[c]);t&&i[l[0]]||(void 0!==a&&(void 0===l[5]||(l[1]="@layer".concat(l[5].length>0?" ".concat(l[5]):""," {").concat(l[1],"}")),l[5]=a),o&&(l[2]&&(l[1]="@media ".concat(l[2]," {").concat(l[1],"}")),l[2]=o),n&&(l[4]?(l[1]="@supports (".concat(l[4],") {").concat(l[1],"}"),l[4]=n):l[4]="".concat(n)),r.push(l))}},r}},601(e){e.exports=function(e){return e[1]}},72(e){var r=[];function o(e){for(var o=-1,t=0;t<r.length;t++)if(r[t].identifier===e){o=t;break}return o}function t(e,t){for(var n={},a=[],i=0;i<e.length;i++){var s=e[i],p=t.base?s[0]+t.base:s[0],c=n[p]||0,l="".concat(p," ").concat(c);n[p]=c+1;var d=o(l),u={css:s[1],media:s[2],sourceMap:s[3],supports:s[4],layer:s[5]};if(-1!==d)r[d].references++,r[d].updater(u);else{var b=function(e,r){var o=r.domAPI(r);return o.update(e),function(r){r?(r.css!==e.css||r.media!==e.media||r.sourceMap!==e.sourceMap||r.supports!==e.supports||r.layer!==e.layer)&&o.update(e=r):o.remove()}}(u,t);t.byIndex=i,r.splice(i,0,{identifier:l,updater:b,references:1})}a.push(l)}return a}e.exports=function(e,n){var a=t(e=e||[],n=n||{});return function(e){e=e||[];for(var i=0;i<a.length;i++){var s=o(a[i]);r[s].references--}for(var p=t(e,n),c=0;c<a.length;c++){var l=o(a[c]);0===r[l].references&&(r[l].updater(),r.splice(l,1))}a=p}}},659(e){var r={};e.exports=function(e,o){var t=function(e){if(void 0===r[e]){var o=document.querySelector(e);if(window.HTMLIFrameElement&&o instanceof window.HTMLIFrameElement)try{o=o.contentDocument.head}catch(e){o=null}r[e]=o}return r[e]}(e);if(!t)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");t.appendChild(o)}},540(e){e.exports=function(e){var r=document.createElement("style");return e.setAttributes(r,e.attributes),e.insert(r,e.options),r}},56(e,r,o){e.exports=function(e){var r=o.nc;r&&e.setAttribute("nonce",r)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var r=e.insertStyleElement(e);return{update:function(o){var t,n,a;t="",o.supports&&(t+="@supports (".concat(o.supports,") {")),o.media&&(t+="@media ".concat(o.media," {")),(n=void 0!==o.layer)&&(t+="@layer".concat(o.layer.length>0?" ".concat(o.layer):""," {")),t+=o.css,n&&(t+="}"),o.media&&(t+="}"),o.supports&&(t+="}"),(a=o.sourceMap)&&"u">typeof btoa&&(t+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),e.styleTagTransform(t,r,e.options)},remove:function(){var e;null===(e=r).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,r){if(r.styleSheet)r.styleSheet.cssText=e;else{for(;r.firstChild;)r.removeChild(r.firstChild);r.appendChild(document.createTextNode(e))}}},579(e,r,o){var t=o(72),n=o.n(t),a=o(825),i=o.n(a),s=o(659),p=o.n(s),c=o(56),l=o.n(c),d=o(540),u=o.n(d),b=o(113),w=o.n(b),f=o(475),v={};v.styleTagTransform=w(),v.setAttributes=l(),v.insert=p().bind(null,"head"),v.domAPI=i(),v.insertStyleElement=u(),n()(f.A,v),f.A&&f.A.locals&&f.A.locals}}]);